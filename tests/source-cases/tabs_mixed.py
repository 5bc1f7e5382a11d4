class Mixed:
	def m(self):
	    return 1
	    # tab then spaces
	# tab
        # eight spaces

	def n(self):
		return 2

def f():
	return 1
	# tab comment
  # two spaces: a tab is one character, so this counts


def g():
	if True:
		pass
    # four spaces: four characters, at least the one of the body
	# tab


class T:
	def m(self):
		return 2
		# deep tab comment
	# method level

	def n(self):
		pass

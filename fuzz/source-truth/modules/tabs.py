# Indented with tabs only.


def tabbed(x):
	if x:
		return x
	# comment at body depth
	return None


class Tabbed:
	def method(self):
		def inner():
			return 1
		return inner()
		# trailing, two tabs


def mixed_in_continuation(a,
			  b):
	return a, b

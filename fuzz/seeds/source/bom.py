﻿def f():
	"""doc
"""
	return 1 \
  + 2

if True:
  class A:
      def m(self):
          return 1
      # at class-body level
  # at if level: the next line's dedent matches no level the tokenizer saw
  x = 1

  class B:
      def n(self):
          pass
    # between levels
  y = 2

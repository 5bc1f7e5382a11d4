# Up to 3.12 findsource walks back from a def line that does not look like one
# ('def' not followed by whitespace) to the nearest line that does, or that has a lambda.
X = [
    lambda: 0,
]
def\
walks_to_lambda(): pass


Y = (lambda: 1,
     2)
def\
walks_to_parenthesised_lambda(): pass


def\
    walks_nowhere():
    return 3

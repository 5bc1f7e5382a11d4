def params_over_lines(
    a,  # first
    b=(1,
       2),
    *,
    c={"k": [1,
             2]},
) -> dict:
    return {"a": a,
            "b": b,
            "c": c}


def ends_with_bracket():
    return [
        1,
        2,
]


def ends_with_call():
    print(
        "x"
    )
    # comment after


def annotation_over_lines() -> (
    int
):
    return 1

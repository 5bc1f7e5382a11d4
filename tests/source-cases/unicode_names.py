def größe():
    """Ünïcödé docstring — with a dash."""
    return "日本語"
    # コメント


class Ω:
    def μ(self):
        return "π"


def after_emoji():
    s = "🐍"  # a snake
    return s
        # ✓ deeper comment

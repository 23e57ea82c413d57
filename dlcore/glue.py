"""``glue``: a lesson's measured numbers and figures, kept for the book.

In the book build, :func:`glue` is myst-nb's: a value glued under a name
is shown in the text wherever ``{glue:text}`name``` stands. A lesson
opened elsewhere (JupyterLab with the learner's set, Binder, Colab, the
browser) has no myst-nb; there it shows the value when asked to
(``display=True``) and otherwise does nothing, so the lesson runs as it
is.
"""


def glue(name, value, display=True):
    """Keep ``value`` under ``name`` for the book's text; show it too when
    ``display`` is true."""
    try:
        from myst_nb import glue as book_glue
    except ImportError:
        if display:
            try:
                from IPython.display import display as show
            except ImportError:  # plain Python, no notebook
                show = print
            show(value)
        return
    book_glue(name, value, display=display)

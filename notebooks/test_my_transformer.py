"""The battery of notebook 12 as a plain pytest file: your my_transformer.py, piece by piece.

    .venv/bin/python -m pytest notebooks/test_my_transformer.py        # from the repository's root

One test per piece, in the order you build them. A piece you have not written yet is skipped ("not
done yet"; with TRANSFORMER_COURSE_STRICT=1 it fails); a piece after a wrong one is skipped too, so
the first failure is the one to read. TRANSFORMER_COURSE_MY_TRANSFORMER=path checks another file.
"""

import pytest

from transformer_course.checks import ExerciseNotDone, blank_page

MY_FILE = blank_page.learner_path(__file__)
_outcomes: dict[str, str] = {}


@pytest.fixture(scope="module")
def my():
    """Your file, imported once for all the pieces."""
    return blank_page.load(MY_FILE)


@pytest.mark.parametrize("piece", blank_page.PIECE_NAMES)
def test_piece(piece, my):
    wrong = [name for name, outcome in _outcomes.items() if outcome == "wrong"]
    if wrong:
        pytest.skip(f"piece {wrong[0]} fails first: fix it, then run again")
    try:
        outcome = blank_page.check_piece(my, piece)
    except ExerciseNotDone:
        _outcomes[piece] = "not done"
        raise
    except AssertionError as failure:  # CheckFailed: the message names the piece and the mistake
        _outcomes[piece] = "wrong"
        pytest.fail(str(failure), pytrace=False)
    _outcomes[piece] = outcome
    if outcome == "not done":
        pytest.skip(f"{piece}: not done yet ({MY_FILE.name})")

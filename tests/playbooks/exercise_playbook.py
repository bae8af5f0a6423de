"""A small playbook with real exercises (solution regions, hints, a rubric, an answer bank), written for tests.

``evidence-probe`` has two graded tasks, no model (so runs stay fast):

- ``count`` (checks only): write ``count_words``; its region sits inside the ``with task("count")`` block;
- ``review`` (a deterministic rubric): write ``my_prompt``; its region sits in the cell *before* the task block,
  so the origin of the work has to be read from an earlier cell.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import yaml

PLAYBOOK_ID = "evidence-probe"

#: The shipped solutions (what a learner who copies them submits).
COUNT_SOLUTION = "def count_words(text):\n    return len(text.split())\n"
REVIEW_SOLUTION = 'my_prompt = "Classify the support ticket. Reply with JSON only, with the fields intent and urgency."\n'

#: A learner's own passing answers (neither the stub nor the solution).
COUNT_OWN = "def count_words(text):\n    words = [w for w in text.split(' ') if w.strip()]\n    return len(words)\n"
REVIEW_OWN = "my_prompt = 'You route help-desk tickets: answer in JSON with two keys, intent and urgency.'\n"

MANIFEST: dict[str, Any] = {
    "id": PLAYBOOK_ID,
    "title": "Evidence probe",
    "version": "1.0",
    "summary": "Two small exercises for the tests of origins, hints and attempts.",
    "audience": ["copilot_builder"],
    "estimated_minutes": 5,
    "skills": {"prompting": 0.7, "structured_output": 0.3},
    "tasks": [
        {"id": "count", "title": "Count words", "skills": {"prompting": 1.0},
         "done": "count_words counts the words of a text."},
        {"id": "review", "title": "Write a prompt the rubric passes", "rubric": "rubrics/review.yaml",
         "skills": {"prompting": 0.5, "structured_output": 0.5}, "done": "The prompt passes the rubric."},
    ],
    "parameters": [{"name": "sample", "type": "str", "default": "a b c", "help": "A text to count."}],
    "smoke_parameters": {"sample": "x y z"},
}

RUBRIC: dict[str, Any] = {
    "id": "evidence-probe-review",
    "version": 1,
    "title": "Prompt review (evidence probe)",
    "pass_threshold": 0.75,
    "criteria": [
        {"id": "asks-json", "description": "Asks for JSON.", "weight": 0.4, "skill": "structured_output",
         "levels": [{"score": 0, "descriptor": "no"}, {"score": 1, "descriptor": "yes"}],
         "scorer": {"type": "contains", "field": "output", "mode": "any", "values": ["json"]}},
        {"id": "names-fields", "description": "Names the fields intent and urgency.", "weight": 0.4,
         "skill": "structured_output",
         "levels": [{"score": 0, "descriptor": "no"}, {"score": 1, "descriptor": "yes"}],
         "scorer": {"type": "contains", "field": "output", "mode": "all", "values": ["intent", "urgency"]}},
        {"id": "focused", "description": "5 to 40 words.", "weight": 0.2, "skill": "prompting",
         "levels": [{"score": 0, "descriptor": "no"}, {"score": 1, "descriptor": "yes"}],
         "scorer": {"type": "length", "field": "output", "unit": "words", "min": 5, "max": 40}},
    ],
}

ANSWERS = """\
version: 1
exercises:
  count:
    - quality: good
      code: |
        def count_words(text):
            return len([word for word in text.split() if word])
    - quality: fair
      code: |
        def count_words(text):
            return text.count(" ") + 1
    - quality: poor
      code: |
        def count_words(text):
            return 3
  review:
    - quality: good
      code: |
        my_prompt = "You triage tickets. Answer with JSON only, keys intent and urgency, nothing else."
    - quality: fair
      code: |
        my_prompt = "Read the ticket and reply in JSON so a program can route it to the right team."
    - quality: poor
      code: |
        my_prompt = "Help the user."
"""

CELLS: list[tuple[str, tuple[str, ...]]] = [
    ('sample = "a b c"', ("parameters",)),
    ("from workbench.playbooks import check, hint, task\nfrom workbench.rubrics import score_items", ()),
    (
        'with task("count"):\n'
        "    ### BEGIN SOLUTION count\n"
        "    ### HINT: str.split() breaks a text into its words.\n"
        "    ### HINT: len() of that list is the count.\n"
        "    def count_words(text):\n"
        "        return len(text.split())\n"
        "    ### END SOLUTION\n"
        "    print(count_words(sample))\n"
        '    check(count_words("a b c") == 3, "three words are counted", hint="split on whitespace")\n'
        '    check(count_words("") == 0, "an empty text has no words", hint="no word, no count")',
        ("task:count",),
    ),
    (
        "### BEGIN SOLUTION review\n"
        "### HINT: Name the format (JSON) and the fields you want back.\n"
        'my_prompt = "Classify the support ticket. Reply with JSON only, with the fields intent and urgency."\n'
        "### END SOLUTION",
        ("task:review",),
    ),
    (
        'with task("review"):\n'
        '    [review] = score_items("rubrics/review.yaml", [{"id": "my-prompt", "output": my_prompt}],\n'
        '                           subject="learner", review_queue=False)\n'
        '    print(f"score {review.score:.2f}")\n'
        '    check(review.passed, "your prompt passes the rubric", hint="look at the criteria that failed")',
        ("task:review",),
    ),
]

#: A variant whose ``count`` checks do not depend on the exercise: its learner version passes unchanged.
LAZY_CELLS: list[tuple[str, tuple[str, ...]]] = [
    ('sample = "a b c"', ("parameters",)),
    ("from workbench.playbooks import check, hint, task\nfrom workbench.rubrics import score_items", ()),
    (
        "### BEGIN SOLUTION count\n"
        "def count_words(text):\n"
        "    return len(text.split())\n"
        "### END SOLUTION",
        ("task:count",),
    ),
    ('with task("count"):\n    check(len(sample) > 0, "the sample is not empty")', ("task:count",)),
    CELLS[3],
    CELLS[4],
]


#: The runner tests' failure matrix (conftest.MATRIX_CELLS) with its exercises marked: valid under the
#: solution-region rules (every graded task has a region), for tests about other validation rules.
MATRIX_EXERCISE_CELLS: list[tuple[str, tuple[str, ...]]] = [
    ('mode = "ok"\nn = 2', ("parameters",)),
    ("import os, signal, time\nfrom workbench.playbooks import check, hint, task", ()),
    ("import workbench.telemetry", ()),
    (
        'with task("work"):\n'
        "    ### BEGIN SOLUTION work\n"
        '    result = f"worked {n} times in mode {mode}"\n'
        "    ### END SOLUTION\n"
        "    print(result)",
        ("task:work",),
    ),
    ('if mode == "outside":\n    raise RuntimeError("outside any task")', ("task:after",)),
    (
        'with task("after"):\n'
        "    ### BEGIN SOLUTION after\n"
        "    positive = n >= 1 and n == int(n)\n"
        "    ### END SOLUTION\n"
        '    check(positive, "n is positive")',
        ("task:after",),
    ),
]


def write_exercise_playbook(
    parent: Path,
    *,
    playbook_id: str = PLAYBOOK_ID,
    cells: list[tuple[str, tuple[str, ...]]] | None = None,
    answers: str | None = ANSWERS,
) -> Path:
    """Write the playbook folder ``parent/<playbook_id>`` and return it."""
    root = parent / playbook_id
    (root / "rubrics").mkdir(parents=True, exist_ok=True)
    (root / "playbook.yaml").write_text(yaml.safe_dump({**MANIFEST, "id": playbook_id}, sort_keys=False), "utf-8")
    (root / "rubrics" / "review.yaml").write_text(yaml.safe_dump(RUBRIC, sort_keys=False), "utf-8")
    if answers is not None:
        (root / "answers.yaml").write_text(answers, "utf-8")
    notebook_cells = []
    for source, tags in cells or CELLS:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = list(tags)
        notebook_cells.append(cell)
    nb = nbformat.v4.new_notebook(cells=notebook_cells)
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nbformat.write(nb, root / f"{playbook_id}.ipynb")
    return root

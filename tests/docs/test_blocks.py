"""The doc-test runner's parsing (tests/docs/blocks.py), and every page's
markers: a bad marker fails here, in the main suite, before `nox -s docs`."""

from __future__ import annotations

from pathlib import Path

import pytest

from . import worker
from .blocks import (
    Block,
    all_blocks,
    check,
    output_matches,
    parse_markers,
    parse_page,
    shell_commands,
)


def page(tmp_path: Path, text: str) -> list:
    (tmp_path / "page.md").write_text(text)
    return parse_page(tmp_path / "page.md", tmp_path)


def test_blocks_and_their_lines(tmp_path: Path) -> None:
    blocks = page(
        tmp_path,
        "# T\n\n```python\nx = 1\n```\n\n```text\nnot run\n```\n\n"
        "```console\n$ ls\n```\n",
    )
    assert [(b.id, b.lang, b.code) for b in blocks] == [
        ("page.md:3", "python", "x = 1\n"),
        ("page.md:11", "console", "$ ls\n"),
    ]


def test_markers_before_a_block_and_for_the_page(tmp_path: Path) -> None:
    blocks = page(
        tmp_path,
        "<!-- doc-test-page: cluster=3 -->\n"
        '<!-- doc-test: skip reason="not here" -->\n\n```python\nx\n```\n'
        "```python\ny\n```\n",
    )
    assert blocks[0].markers == {"cluster": "3", "skip": "", "reason": "not here"}
    assert blocks[1].markers == {"cluster": "3"}
    assert not check(blocks[0])
    assert not check(blocks[1])


def test_a_skip_needs_a_reason(tmp_path: Path) -> None:
    (block,) = page(tmp_path, "<!-- doc-test: skip -->\n```python\nx\n```\n")
    assert check(block) == ['a skipped block needs a reason: skip reason="..."']


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("colour=red", "unknown doc-test marker 'colour'"),
        ("fresh=yes", "takes no value"),
        ("raises", "needs a value"),
    ],
)
def test_bad_markers(text: str, error: str) -> None:
    _, errors = parse_markers(text)
    assert len(errors) == 1
    assert error in errors[0]


def test_a_marker_for_another_language() -> None:
    block = Block("p.md", 1, "console", "$ ls\n", {"raises": "KeyError"})
    assert check(block) == ["doc-test marker 'raises' is not for console blocks"]


def test_a_marker_must_precede_a_block(tmp_path: Path) -> None:
    (block,) = page(tmp_path, "<!-- doc-test: fresh -->\ntext\n```python\nx\n```\n")
    assert "not followed by a code block" in check(block)[0]


def test_console_commands_and_their_output() -> None:
    block = Block(
        "p.md",
        10,
        "console",
        "$ pyetcd put /k v   # a comment\nOK\n$ echo a \\\n  b\na b\n\n",
    )
    commands = shell_commands(block)
    assert [(c.line, c.command, c.output) for c in commands] == [
        (11, "pyetcd put /k v   # a comment", ["OK"]),
        (13, "echo a \n  b", ["a b"]),
    ]


def test_commands_without_prompts() -> None:
    block = Block("p.md", 1, "bash", "scripts/demo  # x\n# only a comment\nls\n")
    assert [c.command for c in shell_commands(block)] == ["scripts/demo  # x", "ls"]


def test_output_matching() -> None:
    assert output_matches(["OK"], ["OK"])
    assert not output_matches(["OK"], ["FAILURE"])
    # Numbers, hex IDs and table padding vary from run to run.
    assert output_matches(
        ["| b69f166b7f61ec7 | started |  http://127.0.0.1:2379 |"],
        ["| 8e9e05c52164694d | started | http://127.0.0.1:23456 |"],
    )
    assert output_matches(["etcd (.../etcd), 1:"], ["etcd (/a/b/etcd), 1:"])
    assert output_matches(["first", "...", "last"], ["first", "a", "b", "last"])
    # A lease ID may happen to hold no letter.
    assert output_matches(["/locks/r/694d9a4b0ad1c40c"], ["/locks/r/6945924303517400"])
    assert not output_matches(["first", "last"], ["first", "a", "last"])


def test_every_page_has_valid_markers() -> None:
    blocks = all_blocks()
    assert {b.page for b in blocks} >= {"README.md", "docs/api-tour.md"}
    problems = {b.id: check(b) for b in blocks if check(b)}
    assert problems == {}


def test_a_print_whose_comment_is_a_literal_is_a_claim() -> None:
    block = "if True:\n    print(b'a' + b'b')  # b'ab'\n"
    namespace: dict = {}
    assert worker.run({"code": block, "first_line": 1, "filename": "p.md"}, namespace)[
        "ok"
    ]
    for comment in ("# b'ac'", "# [b'ac']: the prefix is stripped"):
        answer = worker.run(
            {
                "code": f"print([b'ab'][0])  {comment}\n",
                "first_line": 3,
                "filename": "p",
            },
            namespace,
        )
        assert not answer["ok"]
        assert "line 3 printed b'ab'; the doc: " in answer["error"]
    # A comment that is not a literal claims nothing.
    answer = worker.run(
        {"code": "print(1)  # True once it ends\n", "first_line": 1, "filename": "p"},
        namespace,
    )
    assert answer["ok"]


def test_python_etcd3s_host_and_port_become_a_members() -> None:
    from .run_docs import Page, rewrite

    code = (
        'etcd3.client("127.0.0.1", 2379)\n'
        "etcd3.client(host='localhost', port=2379)\n"
        'Endpoint("127.0.0.1", 22379)\n'
    )
    block = Block("page.md", 1, "python", code)
    members = ["127.0.0.1:40001", "127.0.0.1:40002", "127.0.0.1:40003"]
    assert rewrite(block, members, {}, Page(tmp=Path("."))) == (
        'etcd3.client("127.0.0.1", 40001)\n'
        "etcd3.client(host='127.0.0.1', port=40001)\n"
        'Endpoint("127.0.0.1", 40002)\n'
    )
    with pytest.raises(pytest.fail.Exception, match="22379 stands for no member"):
        rewrite(block, members[:1], {}, Page(tmp=Path(".")))

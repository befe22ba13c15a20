"""The XML reader: the repeating element found or named, nesting flattened, entities never resolved."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import pytest

from loader.errors import BadInputError, ValueTypeError
from loader.load import LoadRequest, load_file

from .conftest import Db
from .readers import REJECT_ROWS, read, types


def orders(n: int, bad_at: int | None = None) -> str:
    body = "".join(
        f'<order id="{i}"><amount>{"x" if i == bad_at else f"{i}.50"}</amount>'
        f'<customer vip="true"><name>C{i}</name></customer><item>a</item><item>b</item></order>\n'
        for i in range(n))
    head = '<?xml version="1.0"?>\n<export xmlns="urn:x"><meta><made>2024</made></meta>\n'
    return f"{head}<orders>\n{body}</orders></export>"


def test_the_repeating_element_is_detected_and_nesting_flattened(tmp_path: Path) -> None:
    path = tmp_path / "orders.xml"
    path.write_text(orders(30))
    table, stream, found = read(path)
    assert found.layout.path == ("export", "orders", "order")  # not the items inside each order
    assert types(found) == {"id": "bigint", "amount": "decimal(18,2)", "customer_vip": "boolean",
                            "customer_name": "text", "item": "text"}
    row = table.to_pylist()[3]
    assert row == {"id": 3, "amount": Decimal("3.50"), "customer_vip": True, "customer_name": "C3",
                   "item": '["a", "b"]'}
    assert stream.rows == found.n_rows == 30


def test_a_path_names_the_element(tmp_path: Path) -> None:
    path = tmp_path / "orders.xml"
    path.write_text(orders(3))
    table, _, found = read(path, xml_path="orders/order")
    assert found.layout.path == ("orders", "order") and table.num_rows == 3
    table, _, _ = read(path, xml_path="meta")
    assert table.column("made").to_pylist() == [2024]


def test_a_bad_value_is_located_by_its_line(tmp_path: Path) -> None:
    path = tmp_path / "orders.xml"
    path.write_text(orders(50, bad_at=40))
    with pytest.raises(ValueTypeError) as e:
        read(path, sample_rows=10)
    assert (e.value.where.line, e.value.where.column, e.value.where.value) == (44, "amount", "x")
    table, stream, _ = read(path, policy=REJECT_ROWS, sample_rows=10)
    assert table.num_rows == 49 and [r.line for r in stream.rejects] == [44]


def test_many_records_stream_with_elements_cleared(tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    path.write_text(orders(50_000))
    table, stream, _ = read(path)
    assert stream.rows == 50_000 and len(table.to_batches()) >= 3


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.xml"
    path.write_text(orders(5).replace("</order>\n<order id=\"3\">", "</order>\n<order id=\"3\"<"))
    with pytest.raises(BadInputError) as e:
        read(path)
    assert e.value.where.line == 7 and "invalid XML" in e.value.reason


def test_entities_are_never_expanded(tmp_path: Path) -> None:
    laughs = "".join(f'<!ENTITY l{i} "{"&l" + str(i - 1) + ";" * 1}' + f'{("&l" + str(i - 1) + ";") * 9}">'
                     for i in range(1, 10))
    path = tmp_path / "laughs.xml"
    path.write_text(f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY l0 "lol">{laughs}'
                    '<!ENTITY xxe SYSTEM "file:///etc/passwd">]><r><row><a>&l9;</a><b>&xxe;</b></row>'
                    "<row><a>x</a><b>y</b></row></r>")
    started = time.monotonic()
    try:
        table, _, _ = read(path)
    except BadInputError:
        pass  # refused is fine; expanded is not
    else:
        values = table.to_pylist()
        assert all("root:" not in str(v) and len(str(v)) < 1000 for r in values for v in r.values())
    assert time.monotonic() - started < 5


def test_load_xml_end_to_end(sqlite_db: Db, tmp_path: Path) -> None:
    path = tmp_path / "orders.xml"
    path.write_text(orders(3))
    result = load_file(LoadRequest(str(path), table="t"), sqlite_db.settings())
    assert result.exit_code == 0, result.error
    assert sqlite_db.query("SELECT id, customer_name FROM ref.t ORDER BY id") == [(0, "C0"), (1, "C1"), (2, "C2")]

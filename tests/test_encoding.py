"""Which encoding a sample is in, and whether it is text at all: readers/csv/encoding.py directly."""

from __future__ import annotations

import codecs

import pytest

from loader.errors import BadInputError
from loader.readers.csv import encoding as enc


def test_no_bom_is_plain_utf8():
    assert enc.detect("name\ncafé\n".encode()) == ("utf-8", 0)


@pytest.mark.parametrize("bom, name", [(codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                                       (codecs.BOM_UTF16_BE, "utf-16-be")])
def test_a_byte_order_mark_decides(bom, name):
    assert enc.detect(bom + b"a,b\n") == (name, len(bom))


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_shows_as_nul_in_every_other_byte(codec):
    assert enc.detect("id,name\n1,alice\n2,bob\n".encode(codec)) == (codec, 0)


def test_not_utf8_is_windows_1252():
    assert enc.detect("id;name\n1;café €\n".encode("cp1252")) == ("cp1252", 0)


def test_bytes_undefined_in_1252_mean_latin1():
    assert enc.detect(b"id,name\n1,\x81x\n") == ("latin-1", 0)


def test_a_character_cut_by_the_sample_end_is_still_utf8():
    assert enc.detect("a\ncafé".encode()[:-1]) == ("utf-8", 0)


@pytest.mark.parametrize("head, kind", [(b"PAR1\x15\x04", "Parquet"), (b"\x1f\x8b\x08\x00", "gzip"),
                                        (b"PK\x03\x04", "zip"), (b"%PDF-1.7", "PDF")])
def test_known_binary_formats_are_named(head, kind):
    with pytest.raises(BadInputError, match=f"not a text file but a {kind}"):
        enc.detect(head + b"\x00" * 64)


def test_utf32_is_refused_with_the_fix():
    with pytest.raises(BadInputError, match="save the file as UTF-8"):
        enc.detect(codecs.BOM_UTF32_BE + "a,b\n".encode("utf-32-be"))


def test_binary_data_is_refused():
    with pytest.raises(BadInputError, match="not a text file"):
        enc.decode(bytes(range(256)) * 8, "latin-1", 0)


def test_nul_padding_is_text_but_mostly_nul_is_not():
    assert enc.decode(b"id,name\n" + b"1,a longer text value\x00\n" * 50, "utf-8", 0).startswith("id,name")
    with pytest.raises(BadInputError, match="binary data"):
        enc.decode(b"a\x00\x00\x00\x00" * 100, "utf-8", 0)


def test_invalid_bytes_for_a_pinned_encoding_name_the_line():
    with pytest.raises(BadInputError, match="not valid utf-8") as caught:
        enc.decode(b"a\nb\n\xff\xfe\xfd\n", "utf-8", 0, file="in.csv")
    assert caught.value.where.line == 3 and caught.value.where.file == "in.csv"


def test_decode_skips_the_bom_and_keeps_a_cut_character_for_later():
    assert enc.decode(codecs.BOM_UTF8 + "é".encode(), "utf-8-sig", 3) == "é"
    assert enc.decode("aé".encode()[:-1], "utf-8", 0) == "a"


@pytest.mark.parametrize("encoding, bom, codec", [("utf-8", False, "utf-8-sig"), ("utf-8-sig", True, "utf-8-sig"),
                                                  ("utf-16-le", True, "utf-16"), ("utf-16-le", False, "utf-16-le"),
                                                  ("cp1252", False, "cp1252")])
def test_reader_codec_consumes_the_bom_itself(encoding, bom, codec):
    assert enc.reader_codec(encoding, bom) == codec

"""Write the detection corpus (tests/corpus/*) and its manifest.json from the literals below.

Every file is built from literals in this script, so its bytes are exact (BOMs, CRLF, CR only,
NUL bytes, cp1252, UTF-16) and the corpus can be regenerated identically:

    python tests/corpus/make_corpus.py          # write files + manifest.json, then check them
    python tests/corpus/make_corpus.py --check  # only check the files against the manifest

The check parses every file with Python's csv module using the dialect the manifest declares
and verifies row counts, column names (loader.naming.column_names) and a plausible type for
each column, so a typo in an expectation cannot go unnoticed.

Manifest entry fields (see README in test_corpus.py for how they are compared):
  file, encoding, delimiter, quotechar, escapechar, has_header, skip_rows, n_rows,
  trailer_rows (informative: lines below the data that are not data), bad_rows (ragged rows
  that the loader must reject; 0 when absent), columns [{name, type}] or null, error, note.
  A column "type" is one kind, or a list of acceptable kinds when the choice is debatable.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import re
import struct
import sys
import zlib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ENTRIES: list[dict[str, Any]] = []
DATA: dict[str, bytes] = {}


def cols(spec: str) -> list[dict[str, Any]]:
    """'id:bigint name:text flag:boolean|bigint' -> manifest columns."""
    out: list[dict[str, Any]] = []
    for item in spec.split():
        name, _, kind = item.rpartition(":")
        out.append({"name": name, "type": kind.split("|") if "|" in kind else kind})
    return out


def add(file: str, data: bytes | str, *, columns: str | list[dict[str, Any]] | None, n: int, note: str,
        enc: str = "utf-8", delim: str | list[str] = ",", quote: str = '"',
        esc: str | list[str | None] | None = None, header: bool = True,
        skip: int = 0, trailer: int = 0, bad_rows: int = 0) -> None:
    if isinstance(data, str):
        data = _encode(data, enc)
    DATA[file] = data
    if quote == '"' and b'"' not in data and '"'.encode(_codec(enc)).strip(b"\xff\xfe\x00") not in data:
        quote = None  # no quote character anywhere: the file reports no quoting (CleverCSV's convention)
    elif isinstance(quote, list) and '"' in quote and b'"' not in data and None not in quote:
        quote = [*quote, None]
    ENTRIES.append({
        "file": file, "encoding": enc, "delimiter": delim, "quotechar": quote, "escapechar": esc,
        "has_header": header, "skip_rows": skip, "n_rows": n, "trailer_rows": trailer, "bad_rows": bad_rows,
        "columns": cols(columns) if isinstance(columns, str) else columns, "error": None, "note": note,
    })


def bad(file: str, data: bytes, error: str, note: str) -> None:
    DATA[file] = data
    ENTRIES.append({"file": file, "error": error, "note": note})


def _codec(enc: str) -> str:
    return "utf-16-le" if enc.startswith("utf-16") else enc.replace("-sig", "")


def _encode(text: str, enc: str) -> bytes:
    if enc == "utf-8-sig":
        return codecs.BOM_UTF8 + text.encode("utf-8")
    if enc == "utf-16-le":
        return codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    if enc == "utf-16-be":
        return codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    return text.encode(enc)


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


# a file with one column has no delimiter: ',' (the convention) and '' (how CleverCSV annotates it) both pass
ONE_COLUMN = [",", ""]

# ---------------------------------------------------------------------------------------------
# empty, tiny, shape
# ---------------------------------------------------------------------------------------------

bad("empty.csv", b"", "empty", "zero bytes: fail fast with 'empty'")
bad("blank_lines_only.csv", b"\r\n\n   \n\t\n", "empty", "only blank / whitespace lines: no header, no rows")

add("header_only.csv", "id,name,amount\n", n=0, columns="id:text name:text amount:text",
    note="header and no data rows: loads an empty table; types unknowable, so text")
add("header_only_no_newline.csv", "Kundennummer;Name;Ort", delim=";", n=0,
    columns="kundennummer:text name:text ort:text",
    note="a single header line without a final newline, semicolon delimited")
add("one_column_names.csv", "name\nAlice\nBob\nCharlie\nDiana\nEve\nFrank\n", n=6, columns="name:text",
    delim=ONE_COLUMN, note="one column: no delimiter occurs; ',' by convention or '' (CleverCSV's annotation)")
add("one_column_quoted_commas.csv",
    'full_name\n"Smith, John"\n"Doe, Jane"\n"O\'Brien, Patrick"\n"van der Berg, Anna"\nMadonna\n'
    '"García Márquez, Gabriel"\n"Lee, Ann-Marie"\n', n=7, columns="full_name:text",
    delim=ONE_COLUMN, note="single column of names whose commas sit inside quotes: still one column")
add("one_column_codes.csv", "customer_id\n000123\n004567\n000089\n120000\n007007\n", n=5,
    columns="customer_id:text", delim=ONE_COLUMN, note="single column of codes with leading zeros: text")
add("one_column_numbers.csv", "amount\n12\n15\n-3\n1024\n0\n", n=5, columns="amount:bigint",
    delim=ONE_COLUMN, note="single numeric column: a text header above numbers")

WIDE = 520
add("wide_520_columns.csv",
    "id," + ",".join(f"sensor_{i:03d}" for i in range(1, WIDE + 1)) + "\n"
    + "".join(f"{r}," + ",".join(str((r * 7 + i * 13) % 1000) for i in range(1, WIDE + 1)) + "\n"
              for r in range(1, 6)),
    n=5, columns="id:bigint " + " ".join(f"sensor_{i:03d}:bigint" for i in range(1, WIDE + 1)),
    note="521 columns (500+), integers")

_BODY = ("lorem ipsum dolor sit amet, consectetur adipiscing elit; sed do \"eiusmod\" tempor. " * 13000)
_BODY = _BODY[: 1024 * 1024 + 17]
add("field_1mb.csv",
    'id,title,body\n1,short,"a small body"\n2,big,"' + _BODY.replace('"', '""') + '"\n3,after,"done, ok"\n',
    n=3, columns="id:bigint title:text body:text",
    note="one field of just over 1 MB (commas and doubled quotes inside); must neither truncate nor hang")

add("nul_bytes.csv", "id,code,name\n1,A1,Alice\n2,B2,Bo\x00b\n3,C3,Carol\x00\x00\n4,D4,Dave\n", n=4,
    columns="id:bigint code:text name:text",
    note="stray NUL bytes inside two values (padding from a legacy export): still a text CSV, not binary; "
         "the NULs must be dropped or the rows rejected, never crash the database (debatable which)")

# ---------------------------------------------------------------------------------------------
# line endings
# ---------------------------------------------------------------------------------------------

add("line_endings_crlf.csv", crlf("id,name,city\n1,Ann,Oslo\n2,Ben,Rome\n3,Cid,Lima\n"), n=3,
    columns="id:bigint name:text city:text", note="Windows CRLF line endings")
add("line_endings_cr.csv", "id,name,city\r1,Ann,Oslo\r2,Ben,Rome\r3,Cid,Lima\r4,Dee,Kyiv\r", n=4,
    columns="id:bigint name:text city:text", note="classic Mac OS: CR only line endings")
add("line_endings_mixed.csv", "id,name,city\n1,Ann,Oslo\r\n2,Ben,Rome\r3,Cid,Lima\n4,Dee,Kyiv\r\n5,Eve,Bern", n=5,
    columns="id:bigint name:text city:text",
    note="LF, CRLF and CR mixed in one file (files concatenated on different systems), no final newline")
add("no_final_newline.csv", "a,b\n1,2\n3,4", n=2, columns="a:bigint b:bigint",
    note="the last line has no newline")
add("no_final_newline_quoted.csv", 'id,comment\n1,"first, one"\n2,"last ""quoted"" one"', n=2,
    columns="id:bigint comment:text", note="last line ends inside a quoted field's closing quote, no newline")
add("blank_lines_inside.csv", "id,name\n1,Ann\n\n2,Ben\n\n\n3,Cid\n\n", n=3, columns="id:bigint name:text",
    note="blank lines between rows and at the end are not rows")

# ---------------------------------------------------------------------------------------------
# BOM, sep= line, quoting, header names
# ---------------------------------------------------------------------------------------------

add("bom_semicolon.csv",
    crlf("Artikel;Bezeichnung;Preis;Menge\n4711;Schraube M4;0,12;100\n4712;Mutter M4;0,08;250\n"
         "4713;Unterlegscheibe;0,05;1000\n4714;Dübel 6 mm;0,15;50\n"),
    enc="utf-8-sig", delim=";", n=4, columns="artikel:bigint bezeichnung:text preis:decimal menge:bigint",
    note="UTF-8 BOM + semicolons + decimal commas (German Excel 'CSV UTF-8'); BOM not in the first name")
add("excel_sep_semicolon.csv",
    crlf("sep=;\nName;Amount;Date\nAlice;1.234,56;15.03.2024\nBob;-12,00;01.02.2024\nCarol;0,99;28.02.2024\n"),
    delim=";", skip=1, n=3, columns="name:text amount:decimal date:date",
    note="Excel 'sep=;' first line (skip_rows=1), thousands dots and decimal commas, dd.mm.yyyy dates")
add("excel_sep_cp1252.csv",
    crlf("sep=;\nKunde;Straße;Ort;Betrag;Währung;Datum\nMüller GmbH;Hauptstraße 5;München;1.234,56;€;13.01.2024\n"
         "Bäckerei Groß;Königsallee 12;Düsseldorf;-89,90;€;02.02.2024\n"
         "Café Crème;Rue de l’Église 3;Genève;12.000,00;€;29.02.2024\n"
         "Señor Pérez;Calle Mayor 1;Málaga;0,50;€;07.03.2024\n"),
    enc="cp1252", delim=";", skip=1, n=4,
    columns="kunde:text straße:text ort:text betrag:decimal währung:text datum:date",
    note="Windows Excel export in cp1252 with a sep= line: ä ö ü ß é € ’ as single bytes")
add("utf8_bom_sep_line.csv", "sep=,\nid,name,price\n1,Tea,2.50\n2,Coffee,3.10\n3,Cocoa,2.95\n",
    enc="utf-8-sig", skip=1, n=3, columns="id:bigint name:text price:decimal",
    note="UTF-8 BOM before an Excel 'sep=,' line")
add("quoted_header.csv",
    '"id","first name","last name","email"\n1,"Ann","Lee","ann@example.com"\n2,"Ben","Okafor","ben@example.org"\n'
    '3,"Cid","Nuñez","cid@example.net"\n',
    n=3, columns="id:bigint first_name:text last_name:text email:text", note="every header name quoted")
add("quoted_everything.csv",
    '"id","amount","day","active"\n"1","12.50","2024-01-15","true"\n"2","-3.75","2024-02-29","false"\n'
    '"3","1000.00","2023-12-31","true"\n',
    n=3, columns="id:bigint amount:decimal day:date active:boolean",
    note="every field quoted, numbers and dates too: quoting does not make a value text")
add("excel_de_quoted_crlf.csv",
    crlf('"Name";"Vorname";"PLZ";"Ort"\n"Schmidt";"Anna";"01067";"Dresden"\n"Meier";"Jörg";"80331";"München"\n'
         '"Weiß";"Eva";"04109";"Leipzig"\n'),
    delim=";", n=3, columns="name:text vorname:text plz:text ort:text",
    note="German Excel export: quoted, semicolons, CRLF, postal codes with leading zeros stay text")
add("duplicate_headers.csv", "id,name,name,amount,Amount,\n1,Ann,Lee,10,11,x\n2,Ben,Ode,20,21,y\n3,Cid,Roe,30,31,z\n",
    n=3, columns="id:bigint name:text name_2:text amount:bigint amount_2:bigint col_6:text",
    note="duplicate names (also differing by case) get _2; an empty name with values becomes col_6")
add("header_special_chars.csv",
    "Customer Name,E-mail Address,Amount (€),% Change,#,Date of Birth\n"
    "Ann Lee,ann@example.com,10.50,1.5,1,1990-05-17\nBen Ode,ben@example.com,7.25,-0.5,2,1985-11-30\n",
    n=2, columns="customer_name:text e_mail_address:text amount:decimal change:decimal col_5:bigint "
                 "date_of_birth:date",
    note="header names with spaces, punctuation, € and a bare '#' made into safe identifiers")
add("trailing_delimiter_comma.csv", "id,name,amount,\n1,Ann,3.50,\n2,Ben,4.00,\n3,Cid,12.75,\n", n=3,
    columns="id:bigint name:text amount:decimal",
    note="every line ends with the delimiter: the empty last column is an artifact and is dropped "
         "(debatable: an all-empty col_4 would also be defensible)")
add("trailing_delimiter_semicolon.csv",
    crlf("Datum;Bezeichnung;Betrag;\n15.01.2024;Miete;-850,00;\n16.01.2024;Gehalt;2.450,00;\n"
         "20.01.2024;Supermarkt;-63,45;\n"),
    delim=";", n=3, columns="datum:date bezeichnung:text betrag:decimal",
    note="trailing ';' on every line, header included; dd.mm.yyyy dates, decimal commas")
add("whitespace_around_delimiters.csv",
    'id , name , score , city\n1 , Ann , 9.5 , Oslo\n2 , "Lee, Bo" , 7.25 , Rome\n3 , Cid , 10 , Lima\n',
    n=3, columns="id:bigint name:text score:decimal city:text",
    note="spaces around every comma (hand-edited file); values are trimmed before typing")
add("json_in_field.csv",
    'id,payload\n1,"{""a"": 1, ""b"": [1, 2]}"\n2,"{""name"": ""x, y"", ""ok"": true}"\n3,"[]"\n', n=3,
    columns="id:bigint payload:text", note="JSON documents in a field, quotes doubled, commas inside")

# ---------------------------------------------------------------------------------------------
# delimiters, quotes, escapes
# ---------------------------------------------------------------------------------------------

add("delim_semicolon.csv", "id;name;city;score\n1;Ann;Oslo;3\n2;Ben;Rome;5\n3;Cid;Lima;8\n4;Dee;Kyiv;1\n",
    delim=";", n=4, columns="id:bigint name:text city:text score:bigint", note="plain semicolon file")
add("delim_tab.tsv",
    "id\tproduct\tprice\tnote\n1\tTea, green\t2.50\tper 100 g\n2\tCoffee; dark\t3.10\t\"best\" seller\n"
    "3\tCocoa\t2.95\t\n",
    delim="\t", n=3, columns="id:bigint product:text price:decimal note:text",
    note="tab separated; commas, semicolons and a mid-field quote in values")
add("delim_pipe.psv", "id|name|city|amount\n1|Smith, John|Paris, FR|10.5\n2|Doe, Jane|Rome, IT|3.25\n"
    "3|Roe, Rick|Lima, PE|7\n", delim="|", n=3, columns="id:bigint name:text city:text amount:decimal",
    note="pipe separated, commas inside values")
add("delim_colon_passwd.txt",
    "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\njdoe:x:1000:1000:John Doe,,,:/home/jdoe:/bin/bash\n"
    "asmith:x:1001:1001:Ann Smith,Room 12,,:/home/asmith:/bin/zsh\n",
    delim=":", header=False, n=5,
    columns="col_1:text col_2:text col_3:bigint col_4:bigint col_5:text col_6:text col_7:text",
    note="colon separated, /etc/passwd style, no header; the GECOS field holds commas")
add("delim_colon_header.txt", "host:port:user:enabled\ndb1:5432:app:yes\ndb2:5433:report:no\ncache:6379:app:yes\n",
    delim=":", n=3, columns="host:text port:bigint user:text enabled:boolean", note="colon separated with a header")
add("delim_caret.txt",
    'ID^NAME^AMOUNT^NOTE\n1^Widget, small^10.00^"a ^ in quotes"\n2^Gadget^-2.50^plain\n3^Thing; big^7.25^x, y\n',
    delim="^", n=3, columns="id:bigint name:text amount:decimal note:text",
    note="caret separated (mainframe), with a quoted field containing a caret")
add("delim_tilde.txt", "id~name~note\n1~Ann~likes a, b; c\n2~Ben~\"quoted ~ tilde\"\n3~Cid~none\n4~Dee~a|b\n",
    delim="~", n=4, columns="id:bigint name:text note:text",
    note="tilde separated; commas, semicolons, pipes in values")
add("quote_single.csv",
    "id,name,city,amount\n1,'Smith, John','New York, NY',10.5\n2,'Doe, Jane','Paris',3\n"
    "3,'Roe, Rick','Lima, Peru',7.25\n4,'O''Hara, Kim','Cork',1\n",
    quote="'", n=4, columns="id:bigint name:text city:text amount:decimal",
    note="single quote as the quote character (doubled to escape)")
add("quote_none_apostrophes.csv",
    "id,name,comment\n1,Patrick O'Brien,it's fine\n2,Ann,don't know\n3,D'Angelo,rock 'n' roll\n4,Bea,ok\n",
    n=4, columns="id:bigint name:text comment:text",
    note="no quoting at all; apostrophes are not quote characters (expect quotechar '\"')")
add("inch_marks_unquoted.csv", 'sku,description,size\nP1,Pipe 12" steel,12\nP2,Screen 27" 4K,27\nP3,Bolt,5\n', n=3,
    columns="sku:text description:text size:bigint",
    note='a " inside an unquoted field (inch marks) is a literal character, not a quote')
add("escape_doubled.csv",
    'id,quote,author\n1,"He said ""hi""","Ann"\n2,"""Quoted"" at start","Ben"\n3,"plain","Cid, Jr."\n', n=3,
    columns="id:bigint quote:text author:text", note="quotes escaped by doubling")
add("escape_backslash.csv",
    'id,comment,path\n1,"She said \\"hi\\"","C:\\\\temp"\n2,"a, b \\"c\\"","D:\\\\x"\n3,"none","E:\\\\"\n', n=3,
    esc="\\", columns="id:bigint comment:text path:text",
    note="backslash escapes inside quotes (\\\" and \\\\), as written by PHP/MySQL tools")
add("escape_backslash_unquoted.csv",
    "id,name,city\n1,Smith\\, John,London\n2,Doe\\, Jane,Leeds\n3,Plain,York\n4,Roe\\, R\\, Jr,Hull\n", n=4,
    esc="\\", columns="id:bigint name:text city:text",
    note="MySQL SELECT INTO OUTFILE style: no quotes, delimiter escaped with a backslash")
add("multiline_fields.csv",
    'id,name,address\n1,Ann,"12 High St\nFlat 3\nLondon"\n2,Ben,"1 Main Rd, Springfield"\n'
    '3,Cid,"Line one\n\nLine three after a blank line"\n4,Dee,Oslo\n',
    n=4, columns="id:bigint name:text address:text", note="quoted fields spanning lines, one with a blank line")
add("multiline_excel_crlf.csv",
    'id,name,comment\r\n1,Ann,"first line\nsecond line"\r\n2,Ben,"single"\r\n3,Cid,"a\nb\nc"\r\n', n=3,
    columns="id:bigint name:text comment:text",
    note="Excel: CRLF row ends, LF (Alt+Enter) inside quoted cells")

# ---------------------------------------------------------------------------------------------
# header or not
# ---------------------------------------------------------------------------------------------

add("no_header_numeric.csv", "1,20.5,30.1,0\n2,21.0,29.8,1\n3,19.75,31.2,0\n4,22.25,28.9,1\n5,20.0,30.0,0\n",
    header=False, n=5, columns="col_1:bigint col_2:decimal col_3:decimal col_4:bigint|boolean",
    note="numbers only, no header: the first row is data")
add("no_header_text.csv",
    "Alice,Smith,alice.smith@example.com,London\nBob,Jones,bob.jones@example.org,Leeds\n"
    "Carol,White,carol.white@example.net,York\nDan,Brown,dan.brown@example.com,Bath\n"
    "Eve,Black,eve.black@example.org,Hull\n",
    header=False, n=5, columns="col_1:text col_2:text col_3:text col_4:text",
    note="text only, no header: the first row looks exactly like the others (an e-mail in column 3)")
add("no_header_mixed.csv",
    "2024-01-05,ACME Corp,INV-0001,1250.00,paid\n2024-01-09,Globex,INV-0002,99.90,open\n"
    "2024-02-14,Initech,INV-0003,5000.00,paid\n",
    header=False, n=3, columns="col_1:date col_2:text col_3:text col_4:decimal col_5:text",
    note="no header: first row has a date and an amount")
add("header_text_only.csv",
    "Country,Capital,Continent,Currency\nFrance,Paris,Europe,Euro\nJapan,Tokyo,Asia,Yen\nPeru,Lima,South America,Sol\n"
    "Kenya,Nairobi,Africa,Shilling\n",
    n=4, columns="country:text capital:text continent:text currency:text",
    note="all text, with a header: names are distinct words unlike the values below them")
add("log_pipe.txt",
    "2024-03-01 12:00:01.123|INFO|auth|user=alice action=login ip=10.0.0.1\n"
    "2024-03-01 12:00:02.456|WARN|db|slow query, took 1,234 ms\n"
    "2024-03-01 12:00:05.789|ERROR|api|timeout; retrying (attempt 2)\n"
    "2024-03-01 12:01:00.000|INFO|auth|user=bob action=logout\n",
    delim="|", header=False, n=4, columns="col_1:timestamp col_2:text col_3:text col_4:text",
    note="log-like pipe file without header; commas and semicolons in messages")

# ---------------------------------------------------------------------------------------------
# preamble and trailer
# ---------------------------------------------------------------------------------------------

add("preamble_report.csv",
    "Monthly Sales Report\nExported on 2024-01-01\n\nregion,month,units,revenue\nNorth,2023-12,120,4500.50\n"
    "South,2023-12,80,3100.00\nEast,2023-12,95,3725.25\n",
    skip=3, n=3, columns="region:text month:text units:bigint revenue:decimal",
    note="title, export date and a blank line above the header (skip_rows=3)")
add("bank_statement_de.csv",
    '"Kontonummer:";"DE89 3704 0044 0532 0130 00";\n"Zeitraum:";"01.01.2024 - 31.01.2024";\n'
    '"Kontostand vom 31.01.2024:";"2.345,67 EUR";\n\n'
    '"Buchungstag";"Valuta";"Auftraggeber/Empfänger";"Buchungstext";"Verwendungszweck";"Betrag (EUR)";"Saldo (EUR)"\n'
    '"02.01.2024";"02.01.2024";"Stadtwerke München";"Lastschrift";"Abschlag Strom 01/2024";"-85,00";"2.260,67"\n'
    '"15.01.2024";"15.01.2024";"Arbeitgeber GmbH";"Gutschrift";"Gehalt Januar";"3.100,00";"5.360,67"\n'
    '"22.01.2024";"23.01.2024";"REWE Markt";"Kartenzahlung";"REWE SAGT DANKE, 1234";"-63,45";"5.297,22"\n'
    '"31.01.2024";"31.01.2024";"Vermieter";"Dauerauftrag";"Miete 02/2024";"-1.250,00";"4.047,22"\n',
    delim=";", skip=4, n=4,
    columns="buchungstag:date valuta:date auftraggeber_empfänger:text buchungstext:text verwendungszweck:text "
            "betrag_eur:decimal saldo_eur:decimal",
    note="German bank statement: 3 preamble lines + blank, quoted, dd.mm.yyyy, thousands dots, decimal commas")
add("bank_statement_us.csv",
    crlf("Account Name : Checking ...1234\nDate Range : 01/01/2024 - 01/31/2024\n\n"
         "Posting Date,Description,Amount,Balance\n01/02/2024,\"AMAZON MKTPLACE PMTS, SEATTLE WA\",-23.99,1976.01\n"
         "01/15/2024,PAYROLL ACME INC,2500.00,4476.01\n01/17/2024,\"CHECK # 1042\",-150.00,4326.01\n"
         "01/31/2024,MONTHLY FEE,-12.00,4314.01\n"),
    skip=3, n=4, columns="posting_date:date description:text amount:decimal balance:decimal",
    note="US bank export: preamble, CRLF, mm/dd/yyyy (day > 12 present), quoted descriptions with commas")
add("worldbank_preamble.csv",
    '"Data Source","World Development Indicators",\n\n"Last Updated Date","2024-06-28",\n\n'
    '"Country Name","Country Code","Indicator Name","Indicator Code","2019","2020","2021","2022","2023",\n'
    '"Aruba","ABW","Population, total","SP.POP.TOTL","106442","106585","106537","106445","106277",\n'
    '"Africa Eastern and Southern","AFE","Population, total","SP.POP.TOTL","675950189","694665117",'
    '"713090928","731821393","750503764",\n'
    '"Afghanistan","AFG","Population, total","SP.POP.TOTL","37769499","38972230","40099462","41128771","",\n',
    enc="utf-8-sig", skip=4, n=3,
    columns="country_name:text country_code:text indicator_name:text indicator_code:text c_2019:bigint "
            "c_2020:bigint c_2021:bigint c_2022:bigint c_2023:bigint",
    note="World Bank API download: BOM, 2 preamble lines each followed by a blank line, every line quoted and "
         "ending with ',', years as header names, an empty value")
add("trailer_total.csv", "item,qty,price\nApple,3,0.50\nPear,2,0.75\nPlum,10,0.20\nTotal: 123\n", n=3, trailer=1,
    columns="item:text qty:bigint price:decimal", note="a 'Total: 123' line after the data is not a row")
add("trailer_eof.csv", "id;name;value\n1;a;10\n2;b;20\n3;c;30\n4;d;40\nEOF\n", delim=";", n=4, trailer=1,
    columns="id:bigint name:text value:bigint", note="an 'EOF' marker line ends the file")
add("trailer_record_count.csv",
    "order_id,customer,amount\n1001,ACME,250.00\n1002,Globex,99.95\n1003,Initech,1200.00\n\nRecord count: 3\n",
    n=3, trailer=1, columns="order_id:bigint customer:text amount:decimal",
    note="a blank line then a 'Record count: 3' line after the data")
add("psql_unaligned.txt", "id|name|amount\n1|Ann|10.50\n2|Ben|3.25\n3|Cid|7.00\n(3 rows)\n", delim="|", n=3,
    trailer=1, columns="id:bigint name:text amount:decimal",
    note="psql -A output: pipe separated with a '(3 rows)' count line at the end")
add("mainframe_hdr_trl.txt",
    "HDR|CUSTEXTRACT|2024-01-01\nCUST_ID|NAME|BALANCE|OPENED\n0000012345|SMITH JOHN          |1234.50|2019-03-15\n"
    "0000012346|DOE JANE            |-20.00|2020-11-02\n0000012350|ROE RICHARD         |0.00|2021-07-30\n"
    "TRL|000003\n",
    delim="|", skip=1, n=3, trailer=1, columns="cust_id:text name:text balance:decimal opened:date",
    note="mainframe extract: HDR record above the header, TRL count record below; padded names; ids with "
         "leading zeros stay text")
add("scraped_eurostat_footnotes.csv",
    "geo,2021,2022,2023\nBelgium,11554767,11617623,11742796\nBulgaria,6916548,6838937,6447710\n"
    "Czechia,10494836,10516707,10827529\nLiechtenstein,39055,39308,:\n\nSource: Eurostat (demo_pjan)\n"
    "Note: ':' means not available\n",
    n=4, trailer=2, columns="geo:text c_2021:bigint c_2022:bigint c_2023:text|bigint",
    note="scraped statistics table: ':' marks a missing value (text unless ':' is read as null - debatable); "
         "two footnote lines after a blank line")

# ---------------------------------------------------------------------------------------------
# numbers
# ---------------------------------------------------------------------------------------------

add("decimal_comma_thousands_dot.csv",
    "Region;Einwohner;Fläche km²;Dichte\nBayern;13.176.989;70.541,57;186,8\nBerlin;3.755.251;891,12;4.214,1\n"
    "Bremen;684.864;419,62;1.632,1\nSaarland;992.666;2.571,11;386,1\n",
    delim=";", n=4, columns="region:text einwohner:bigint fläche_km2:decimal dichte:decimal",
    note="German numbers: '.' thousands separator, ',' decimal; 13.176.989 is an integer")
add("semicolon_decimal_comma.csv", "messung;temperatur;feuchte\n1;21,5;45,2\n2;22,0;44,8\n3;20,75;46,1\n4;19,9;47,0\n",
    delim=";", n=4, columns="messung:bigint temperatur:decimal feuchte:decimal",
    note="decimal commas: every data row has two commas, but the delimiter is ';' (the header has none)")
add("thousands_comma_us.csv",
    'item,units,revenue\nWidget,"1,204","12,345.67"\nGadget,87,"1,002.00"\nGizmo,"12,000","250,000.50"\n', n=3,
    columns="item:text units:bigint revenue:decimal",
    note="US thousands separators inside quoted values")
add("currency_signs.csv",
    'date,description,price,fee\n2024-01-15,Coffee,$4.50,€0.10\n2024-01-16,Laptop,"$1,234.00",€2.00\n'
    '2024-01-17,Refund,-$12.00,€0.00\n',
    n=3, columns="date:date description:text price:decimal|text fee:decimal|text",
    note="currency signs on amounts: decimal when one sign is used consistently (debatable; text acceptable)")
add("percentages.csv", "metric,share,change\nA,12.5%,-3%\nB,40%,+1.25%\nC,47.5%,0%\n", n=3,
    columns="metric:text share:text|decimal change:text|decimal",
    note="percent values: text is fine (decimal 0.125 or 12.5 also defensible)")
add("decimals_38_digits.csv",
    "id,amount,tiny\n1,12345678901234567890.123456789012345678,0.000000000000000000000000000000000001\n"
    "2,-99999999999999999999.999999999999999999,-0.5\n3,0.1,1\n",
    n=3, columns="id:bigint amount:decimal tiny:decimal",
    note="decimals of 38 significant digits (20 integer + 18 fraction), and a scale of 36")
add("negatives_scientific.csv",
    "id,delta,ratio,measure\n1,-5,-0.25,6.02214076e23\n2,7,1.5,-1.602176634E-19\n3,-100,0.125,1e-3\n4,0,-2.0,3.0E+8\n",
    n=4, columns="id:bigint delta:bigint ratio:decimal measure:float",
    note="negative integers and decimals; scientific notation (e/E, signed exponents) is float")
add("codes_leading_zeros.csv",
    "account,zip,phone,national_id,order_no,qty\n0012345678,02134,+44 20 7946 0958,123456789012345678901,"
    "98765432109876543210,3\n0098765432,90210,(555) 010-0199,000111222333444555666,12345678901234567890,12\n"
    "0000000001,10001,0612345678,999888777666555444333,11111111111111111111,1\n",
    n=3, columns="account:text zip:text phone:text national_id:text order_no:text qty:bigint",
    note="leading-zero codes, zip codes, phone numbers, 20/21-digit strings beyond int64: all text")
add("zip_codes_some_zeros.csv",
    "city,zip\nBoston,02134\nBeverly Hills,90210\nNew York,10001\nPortland,04101\nChicago,60601\n",
    n=5, columns="city:text zip:text", note="only some zip codes start with 0; the column stays text")
add("booleans.csv",
    "id,active_yn,subscribed,is_admin,verified\n1,Y,yes,1,true\n2,N,no,0,false\n3,Y,no,0,true\n4,N,yes,1,false\n",
    n=4, columns="id:bigint active_yn:boolean subscribed:boolean is_admin:boolean|bigint verified:boolean",
    note="booleans as Y/N, yes/no, 1/0 (bigint also defensible for 1/0), true/false")
add("booleans_case.csv", "name,flag,ok\nA,True,YES\nB,FALSE,No\nC,true,yes\nD,False,NO\n", n=4,
    columns="name:text flag:boolean ok:boolean", note="booleans in mixed case")
add("null_markers.csv", "id,score,comment\n1,NULL,first\n2,12,\\N\n3,NA,\n4,7,N/A\n5,,last\n", n=5, columns=None,
    esc=[None, "\\"], note="NULL, \\N, NA, N/A and empty as missing values; types not asserted (null policy is "
    "config); \\N is MySQL's escaped NULL, so a backslash escapechar is also accepted")

# ---------------------------------------------------------------------------------------------
# dates and timestamps
# ---------------------------------------------------------------------------------------------

add("dates_dmy.csv", "id,order_date,ship_date\n1,03/01/2024,15/01/2024\n2,28/02/2024,05/03/2024\n"
    "3,10/04/2024,11/04/2024\n", n=3, columns="id:bigint order_date:date ship_date:date",
    note="dd/mm/yyyy: a day > 12 in each column decides the order")
add("dates_mdy.csv", "id,order_date,ship_date\n1,01/03/2024,01/15/2024\n2,02/28/2024,03/05/2024\n"
    "3,04/10/2024,04/11/2024\n", n=3, columns="id:bigint order_date:date ship_date:date",
    note="mm/dd/yyyy: a day > 12 in the second position in each column decides the order")
add("dates_ambiguous.csv", "id,event_date\n1,01/02/2024\n2,03/04/2024\n3,05/06/2024\n4,12/11/2023\n", n=4,
    columns="id:bigint event_date:text", note="every day <= 12: dd/mm or mm/dd cannot be decided, so text")
add("dates_iso.csv", "id,day,note\n1,2024-01-15,a\n2,2024-02-29,b\n3,1999-12-31,c\n", n=3,
    columns="id:bigint day:date note:text", note="ISO dates")
add("timestamps_iso.csv",
    "id,created,updated\n1,2024-01-05T10:30:00,2024-01-05 10:30:00.123\n2,2024-02-29T23:59:59,2024-03-01 00:00:00.5\n"
    "3,2023-12-31T00:00:00,2024-01-01 12:00:00.123456\n",
    n=3, columns="id:bigint created:timestamp updated:timestamp", note="ISO timestamps with T or space, fractions")
add("timestamps_offset.csv",
    "id,at,at_utc\n1,2024-01-05T10:30:00+02:00,2024-01-05T08:30:00Z\n2,2024-06-01T09:00:00-05:00,2024-06-01T14:00:00Z\n"
    "3,2024-12-31T23:59:59+05:30,2024-12-31T18:29:59.250Z\n",
    n=3, columns="id:bigint at:timestamptz at_utc:timestamptz", note="timestamps with offsets (+02:00, -05:00, Z)")

# ---------------------------------------------------------------------------------------------
# encodings
# ---------------------------------------------------------------------------------------------

add("utf8_multilingual.csv",
    "id,city,greeting\n1,Tōkyō 東京,こんにちは\n2,Αθήνα,Καλημέρα\n3,Zürich,Grüezi 😀\n4,Kraków,Dzień dobry\n",
    n=4, columns="id:bigint city:text greeting:text", note="UTF-8 without BOM, several scripts and an emoji")
add("utf8_bom_comma.csv", crlf("name,amount\nCafé,3.50\nNaïve,2.00\n"), enc="utf-8-sig", n=2,
    columns="name:text amount:decimal", note="UTF-8 with BOM, comma, CRLF")
add("utf16le_bom.txt",
    crlf("id\tname\tcity\tamount\n1\tRené\tMünchen\t12.5\n2\t東京 太郎\tTōkyō\t7\n3\tAnn\tOslo\t-1.25\n"),
    enc="utf-16-le", delim="\t", n=3, columns="id:bigint name:text city:text amount:decimal",
    note="Excel 'Unicode text': UTF-16 LE with BOM, tab separated, CRLF")
add("utf16be_bom.csv", "id,name,price\n1,Crème brûlée,4.50\n2,Smørrebrød,6.00\n3,Straße,1.00\n", enc="utf-16-be", n=3,
    columns="id:bigint name:text price:decimal", note="UTF-16 BE with BOM, comma separated")
add("cp1252_euro.csv",
    "Produkt;Preis;Währung;Hinweis\nCafé crème;3,50;€;„gut“ – sehr\nGroße Brezel;1,20;€;‘frisch’\nMaß Bier;9,80;€;…\n",
    enc="cp1252", delim=";", n=3, columns="produkt:text preis:decimal währung:text hinweis:text",
    note="cp1252 with € (0x80), smart quotes, en dash and ellipsis (bytes 0x80-0x9f)")
add("latin1_accents.csv",
    "nom,ville,pays\nFrançois,Besançon,France\nJosé,Málaga,España\nJürgen,Köln,Deutschland\nÅsa,Malmö,Sverige\n",
    enc="cp1252", n=4, columns="nom:text ville:text pays:text",
    note="ISO-8859-1 only characters (é ç ü ö å, no 0x80-0x9f): latin-1 and cp1252 both right")

# ---------------------------------------------------------------------------------------------
# real-world shaped exports
# ---------------------------------------------------------------------------------------------

add("gov_open_data_fr.csv",
    "code_commune;nom_commune;code_postal;population;superficie_km2;latitude;longitude\n"
    "01001;L'Abergement-Clémenciat;01400;779;15,95;46,1534;4,9260\n"
    "01002;L'Abergement-de-Varey;01640;256;9,15;46,0091;5,4285\n"
    "2A004;Ajaccio;20000;71361;82,03;41,9267;8,7369\n"
    "75056;Paris;75001;2133111;105,40;48,8589;2,3469\n"
    "97411;Saint-Denis;97400;153810;142,79;-20,8823;55,4504\n",
    delim=";", n=5,
    columns="code_commune:text nom_commune:text code_postal:text population:bigint superficie_km2:decimal "
            "latitude:decimal longitude:decimal",
    note="French open-data export: semicolons, decimal commas, INSEE codes with leading zeros and letters")
add("commas_in_quotes_comma.csv",
    'id,title,authors,year\n1,"Dune","Herbert, Frank",1965\n2,"War and Peace","Tolstoy, Leo",1869\n'
    '3,"Good Omens","Pratchett, Terry, Gaiman, Neil",1990\n4,"Emma","Austen, Jane",1815\n'
    '5,"The Hobbit","Tolkien, J. R. R.",1937\n',
    n=5, columns="id:bigint title:text authors:text year:bigint",
    note="commas inside quoted text on most rows: naive comma counting sees ragged rows")
add("commas_in_quotes_semicolon.csv",
    'id;title;summary;price\n1;"Red, blue, green";"Colours, shapes, sizes, and more";9,99\n'
    '2;"One, two";"A, B, C, D, E";4,50\n3;"Plain";"x, y";1,00\n4;"Tea, milk, sugar";"Hot, sweet, cheap";2,20\n',
    delim=";", n=4, columns="id:bigint title:text summary:text price:decimal",
    note="semicolon file whose quoted values hold more commas than there are semicolons")
add("tab_many_empty.tsv",
    "id\tname\temail\tphone\tfax\tcity\tnote\n1\tAnn\t\t\t\tOslo\t\n2\t\t\t555-0100\t\t\t\n"
    "3\tCid\tcid@example.com\t\t\t\t\n4\t\t\t\t\tLima\tcall back\n5\tEve\t\t\t\t\t\n",
    delim="\t", n=5, columns="id:bigint name:text email:text phone:text fax:text city:text note:text",
    note="tab separated with most fields empty, rows ending in tabs")
add("ragged_too_many.csv",
    "id,name,amount\n1,Ann,10\n2,Ben,20\n3,Cid,30\n4,Smith, John,40\n5,Eve,50\n6,Fay,60\n7,Gus,70\n8,Hal,80\n",
    n=8, bad_rows=1, columns="id:bigint name:text amount:bigint",
    note="row 4 has an unquoted comma (4 fields): bad input to reject, not a dialect change; by default "
         "(reject_file) the load fails naming the line")
add("ragged_too_few.csv",
    "id;name;city;amount\n1;Ann;Oslo;10\n2;Ben;Rome;20\n3;Cid;30\n4;Dee;Kyiv;40\n5;Eve;Bern;50\n6;Fay;Graz;60\n",
    delim=";", n=6, bad_rows=1, columns="id:bigint name:text city:text amount:bigint",
    note="row 3 misses a field: bad input, not a dialect change; the load fails by default (reject_file)")

add("comment_lines_hash.csv",
    "# Generated by sensor-export v2.1\n# units: celsius, percent\nts,temperature,humidity\n"
    "2024-05-01T00:00:00,12.5,81\n2024-05-01T01:00:00,12.1,83\n2024-05-01T02:00:00,11.8,85\n",
    skip=2, n=3, columns="ts:timestamp temperature:decimal humidity:bigint",
    note="'#' comment lines above the header (with a comma in one) are skipped")
add("delim_space.txt",
    'city population area\n"New York" 8336817 783.8\nLondon 8799800 1572.0\n"Rio de Janeiro" 6211423 1200.3\n'
    "Oslo 709037 454.0\n",
    delim=" ", n=4, columns="city:text population:bigint area:decimal",
    note="space separated, quoted where a value holds spaces")
add("excel_empty_trailing_rows.csv",
    crlf("Nr;Artikel;Menge\n1;Tisch;2\n2;Stuhl;8\n3;Lampe;1\n;;\n;;\n;;\n"),
    delim=";", n=3, columns="nr:bigint artikel:text menge:bigint",
    note="Excel leaves rows of bare delimiters below the data: not rows (debatable: rows of NULLs)")
add("r_write_csv.csv", '"","name","value"\n"1","alpha",1.5\n"2","beta",2.25\n"3","gamma",-0.75\n', n=3,
    columns="col_1:bigint name:text value:decimal", note="R write.csv: row names under an empty quoted header")
add("pandas_index.csv", ",name,value\n0,alpha,1.5\n1,beta,2.0\n2,gamma,3.25\n", n=3,
    columns="col_1:bigint name:text value:decimal", note="pandas to_csv with its index: the first header is empty")
add("fr_nbsp_thousands.csv", "commune;montant;part\nLyon;1\u00a0234,56;12,5\nNice;98,10;1,0\n"
    "Paris;12\u00a0345\u00a0678,00;86,5\n", delim=";", n=3,
    columns="commune:text montant:decimal|text part:decimal",
    note="French Excel: no-break space (U+00A0) as the thousands separator, decimal commas")
add("accounting_negatives.csv", 'account,amount\nSales,"1,234.50"\nRefund,(45.00)\nFees,(12.30)\nOther,0.00\n', n=4,
    columns="account:text amount:decimal|text",
    note="accounting negatives in parentheses: (45.00) is -45.00 (text also defensible)")
add("multiline_header.csv", '"Order\nDate","Amount\n(EUR)",Customer\n2024-01-15,10.50,Ann\n2024-01-16,7.25,Ben\n',
    n=2, columns="order_date:date amount_eur:decimal customer:text",
    note="Excel header cells with a line break inside (Alt+Enter) in quotes")
add("tab_quoted_with_tabs.tsv", 'id\tname\tnote\n1\t"a\tb"\tx\n2\tplain\t"quoted"\n3\t"c, d"\t\n', delim="\t",
    n=3, columns="id:bigint name:text note:text", note="tab separated with a quoted value holding a tab")
add("control_plain_typed.csv",
    "id,amount,day\n1,10.5,2024-01-01\n2,11.0,2024-01-02\n3,12.25,2024-01-03\n4,9.75,2024-01-04\n"
    "5,10.0,2024-01-05\n6,8.5,2024-01-06\n",
    n=6, columns="id:bigint amount:decimal day:date", note="plain typed file: the control case")

# ---------------------------------------------------------------------------------------------
# pathological: must fail fast with a clear message
# ---------------------------------------------------------------------------------------------


def _random_bytes(n: int) -> bytes:
    out, block = b"", b"corpus"
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block
    return out[:n]


def _png_1x1() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    raw = b"\x00\xff\x00\x00"  # filter byte + one red RGB pixel
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


bad("random_bytes.csv", _random_bytes(8192), "binary", "8 KB of pseudo-random bytes named .csv")
bad("png_named.csv", _png_1x1(), "binary", "a 1x1 PNG image named .csv")
add("gzip_named.csv", gzip.compress(b"id,name\n" + b"1,Ann\n2,Ben\n" * 50, compresslevel=9, mtime=0), n=100,
    columns="id:bigint name:text", note="a gzip-compressed CSV named .csv: the content decides, not the name")
_GZ = gzip.compress(b"id,name\n" + b"1,Ann\n2,Ben\n" * 5000, compresslevel=9, mtime=0)
bad("gzip_truncated.csv", _GZ[: len(_GZ) // 2], "corrupt gzip",
    "half of a gzip-compressed CSV (a copy cut short): never a partial load")
bad("nul_padded_binary.csv", b"id,name\n" + b"\x00" * 4096 + b"\x01\x02\x03\xff\xfe" * 50, "binary",
    "a CSV header followed by kilobytes of NULs and control bytes (a truncated/corrupt copy)")


# ---------------------------------------------------------------------------------------------
# writing and checking
# ---------------------------------------------------------------------------------------------

def write() -> None:
    names = {e["file"] for e in ENTRIES}
    assert len(names) == len(ENTRIES), "duplicate file name in the corpus"
    for old in HERE.iterdir():
        if old.is_file() and old.name not in names and old.suffix in {".csv", ".txt", ".tsv", ".psv"}:
            old.unlink()
    for name, data in DATA.items():
        (HERE / name).write_bytes(data)
    text = json.dumps(ENTRIES, indent=1, ensure_ascii=False) + "\n"
    (HERE / "manifest.json").write_text(text, encoding="utf-8")


_NUM_SEP = re.compile(r"^[-+]?[$€£]?[-+]?")


def _plausible(kind: str, values: list[str], delim: str) -> bool:
    """A reference check, independent of the loader, that `kind` fits every non-empty value."""
    vals = [v.strip().removesuffix("%") for v in values if v.strip() not in ("", ":")]  # ':' = missing (Eurostat)
    if not vals:
        return kind == "text"
    if kind == "text":
        return True
    if kind == "boolean":
        return {v.lower() for v in vals} <= {"y", "n", "yes", "no", "1", "0", "true", "false"}

    def number(v: str) -> str:
        v = _NUM_SEP.sub(lambda m: m.group(0).replace("$", "").replace("€", "").replace("£", ""), v)
        v = v.replace("--", "-").removeprefix("+").replace("\u00a0", "")
        v = "-" + v[1:-1] if v.startswith("(") and v.endswith(")") else v  # accounting negative
        if delim == ";":  # German / French style
            return v.replace(".", "").replace(",", ".")
        return v.replace(",", "")

    if kind == "bigint":
        return all(re.fullmatch(r"-?(0|[1-9]\d*)", number(v)) and abs(int(number(v))) < 2**63 for v in vals)
    if kind == "decimal":
        ok = all(re.fullmatch(r"-?(0|[1-9]\d*)(\.\d+)?", number(v)) for v in vals)
        return ok and max(len(number(v).replace("-", "").replace(".", "").lstrip("0")) for v in vals) <= 38
    if kind == "float":
        return all(re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", v) for v in vals)
    if kind == "date":
        return all(_date(v) for v in vals)
    if kind == "timestamp":
        return all(re.fullmatch(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d{1,6})?", v) for v in vals)
    if kind == "timestamptz":
        return all(re.fullmatch(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[-+]\d\d:\d\d)", v) for v in vals)
    return False


def _date(v: str) -> bool:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y"):
        try:
            dt.datetime.strptime(v, fmt)
            return True
        except ValueError:
            pass
    return False


def decode(data: bytes, enc: str) -> str:
    if data[:2] == b"\x1f\x8b":  # a gzip-compressed entry: its expectations are about what it holds
        data = gzip.decompress(data)
    text = data.decode({"utf-16-le": "utf-16", "utf-16-be": "utf-16"}.get(enc, enc))
    return text.removeprefix("\ufeff")


def records(entry: dict[str, Any], data: bytes) -> tuple[list[str] | None, list[list[str]]]:
    """Header and data rows as Python's csv module reads them with the declared dialect."""
    text = decode(data, entry["encoding"])
    lines = io.StringIO(text, newline="").readlines()[entry["skip_rows"]:]
    esc, delim = (v[0] if isinstance(v, list) else v for v in (entry["escapechar"], entry["delimiter"]))
    reader = csv.reader(lines, delimiter=delim or ",", quotechar=entry["quotechar"], escapechar=esc,
                        doublequote=esc is None, skipinitialspace=True, strict=False)
    rows = [r for r in reader if r and any(v.strip() for v in r)]
    if entry.get("trailer_rows"):
        rows = rows[: -entry["trailer_rows"]]
    header = rows.pop(0) if entry["has_header"] else None
    return header, rows


def check() -> list[str]:
    sys.path.insert(0, str(HERE.parent.parent))
    from loader.naming import column_names

    csv.field_size_limit(sys.maxsize)
    problems: list[str] = []
    manifest = json.loads((HERE / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest:
        path = HERE / entry["file"]
        if not path.exists():
            problems.append(f"{entry['file']}: missing")
            continue
        if path.read_bytes() != DATA[entry["file"]]:
            problems.append(f"{entry['file']}: bytes differ from the script (regenerate)")
        if entry["error"]:
            continue
        problems += [f"{entry['file']}: {p}" for p in _check_entry(entry, path.read_bytes(), column_names)]
    return problems


def _check_entry(entry: dict[str, Any], data: bytes, column_names: Any) -> list[str]:
    out: list[str] = []
    header, rows = records(entry, data)
    if len(rows) != entry["n_rows"]:
        out.append(f"n_rows {entry['n_rows']} but csv reads {len(rows)}")
    width = len(header) if header is not None else max(len(r) for r in rows)
    empty_last = all(r[-1].strip() == "" for r in rows if len(r) == width) and (header is None or header[-1] == "")
    if empty_last and width > 1:
        width -= 1  # trailing delimiter on every line
        header = header[:-1] if header is not None else None
    ragged = [r for r in rows if len(r) not in (width, width + int(empty_last))]
    if len(ragged) != entry.get("bad_rows", 0):
        out.append(f"bad_rows {entry.get('bad_rows', 0)} but {len(ragged)} ragged rows")
    if entry["columns"] is None:
        return out
    names = column_names([h.strip() for h in header]) if header is not None else [f"col_{i + 1}" for i in range(width)]
    expected = [c["name"] for c in entry["columns"]]
    if names != expected:
        out.append(f"names {expected} but naming gives {names}")
    good = [r for r in rows if r not in ragged]
    for i, c in enumerate(entry["columns"]):
        kinds = c["type"] if isinstance(c["type"], list) else [c["type"]]
        for kind in kinds:
            if kind == "text" or not good:
                continue
            if not _plausible(kind, [r[i] for r in good], entry["delimiter"]):
                out.append(f"column {c['name']}: values do not fit {kind}")
    return out


if __name__ == "__main__":
    if "--check" not in sys.argv:
        write()
    found = check()
    for p in found:
        print(p)
    total = sum(len(d) for d in DATA.values())
    print(f"{len(ENTRIES)} files, {total / 1e6:.2f} MB, {len(found)} problems")
    sys.exit(1 if found else 0)

"""Write the small committed files of the bad-input corpus (big ones are made at test time).

    python tests/bad_inputs/make_corpus.py
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import openpyxl

HERE = Path(__file__).resolve().parent
HEADER = "VIN,Make,Model,Year,Listing price,Mileage (km),Colour,Listed on,Features,Available,Owner,Owner email,Dealer phone,Last serviced\n"
ROW = 'VIN{n:014d},Ford,Focus,2020,15000,42000,Red,01/02/2026,"Sunroof,Navigation",Yes,Alice Martin,alice.martin@example.com,+33 1 42 68 53 00,2026-01-15 10:30\n'


def fake_ole(marker: str) -> bytes:
    """A compound-file header (what encrypted xlsx and old .xls files are) with one directory name."""
    header = bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 16 + struct.pack("<HH", 0x3E, 3) + b"\xfe\xff" + b"\x00" * 478
    return header + marker.encode("utf-16-le") + b"\x00" * (512 - 2 * len(marker))


def small_xlsx(path: Path, sheet: str = "Inventory") -> None:
    workbook = openpyxl.Workbook()
    workbook.active.title = sheet
    workbook.active.append(HEADER.strip().split(","))
    workbook.save(path)


def main() -> None:
    files = {
        "empty.csv": b"",
        "header_only.csv": HEADER.encode(),
        "ragged_rows.csv": (HEADER + ROW.format(n=1) + ROW.format(n=2).replace("\n", ",extra,fields\n")).encode(),
        "duplicate_headers.csv": (HEADER.replace("Model", "Make") + ROW.format(n=1)).encode(),
        "binary.csv": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10" + bytes(range(256)),
        "mixed_encodings.csv": HEADER.encode() + ROW.format(n=1).replace("Alice Martin", "Zoë Müller").encode("utf-8")
        + ROW.format(n=2).replace("Alice Martin", "Zoë Müller").encode("cp1252"),
        "nul_bytes.csv": HEADER.encode() + b"VIN1,Fo\x00rd\n",
        "unterminated_quote.csv": (HEADER + ROW.format(n=1) + 'VIN2,"Ford,Focus\n').encode(),
        "blank_header.csv": b",,,\nx,y,z,w\n",
        "only_blank_lines.csv": b"\n\n\n",
        "not_a_zip.xlsx": b"VIN,Make\nA,B\n",
        "corrupt.xlsx": bytes((i * 7919) % 256 for i in range(4096)),
        "password_protected.xlsx": fake_ole("EncryptedPackage"),
        "legacy_binary.xlsx": fake_ole("Workbook"),
        "sheet.json": b'{"VIN": "A"}',
        "bad_yaml.yaml": b"object: cars\ncolumns: [VIN: vin\n",
        "list_mapping.yaml": b"- object: cars\n",
        "unknown_key.yaml": b"object: cars\nid_propety: vin\ncolumns:\n  VIN: vin\n",
        "missing_keys.yaml": b"object: cars\n",
        "not_utf8.yaml": "object: cars\nid_property: vin\ncolumns:\n  Prix: price\n  Année: year\n".encode("utf-16"),
        "empty.yaml": b"",
        "bad_values.yaml": b"object: cars\nid_property: vin\nheader_row: 0\ncolumns:\n  VIN: {property: vin, separator: ''}\nsync: {mode: merge}\n",
    }
    for name, data in files.items():
        (HERE / name).write_bytes(data)
    small_xlsx(HERE / "wrong_sheet.xlsx", sheet="Stock")
    good = HERE / "truncated.xlsx"
    small_xlsx(good)
    good.write_bytes(good.read_bytes()[:1500])
    with zipfile.ZipFile(HERE / "zip_not_xlsx.xlsx", "w") as z:
        z.writestr("hello.txt", "not a workbook")
    workbook = openpyxl.Workbook()
    workbook.active.title = "Inventory"
    workbook.save(HERE / "empty_sheet.xlsx")


if __name__ == "__main__":
    main()

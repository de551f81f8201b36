"""Write the sample inventory: cars.csv, cars.xlsx and cars_with_errors.csv, and the CRM samples
contacts.csv and companies.csv (fixed seed).

    python sample_data/make_samples.py

`grow` writes a larger copy of the sample, with its own mapping, for benchmarks and tests.

The rows are realistic and valid for mappings/cars.yaml; cars_with_errors.csv is cars.csv with the
deliberately broken cells listed in BROKEN (and in README.md).
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

import openpyxl
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

HERE = Path(__file__).resolve().parent
ROWS = 300
SEED = 20260115
HEADER = ["VIN", "Make", "Model", "Year", "Listing price", "Mileage (km)", "Colour", "Listed on", "Features",
          "Available", "Owner", "Owner email", "Dealer phone", "Last serviced", "Notes"]
MODELS = {"Toyota": ["Corolla", "Yaris", "RAV4", "Prius"], "Renault": ["Clio", "Megane", "Captur", "Zoe"],
          "Peugeot": ["208", "308", "3008", "5008"], "Volkswagen": ["Golf", "Polo", "Tiguan", "Passat"],
          "BMW": ["118i", "320d", "X1", "X3"], "Ford": ["Fiesta", "Focus", "Kuga", "Puma"],
          "Tesla": ["Model 3", "Model Y"], "Kia": ["Ceed", "Niro", "Sportage"], "Fiat": ["500", "Panda", "Tipo"]}
COLOURS = ["Red", "Dark blue", "Black", "White", "Silver", "Green"]
FEATURES = ["Sunroof", "Heated seats", "Navigation", "Bluetooth", "Backup camera", "Leather seats"]
OWNERS = ["Alice Martin", "Bruno Silva", "Chloe Dubois", "Daniel Kim", "Emma Schmidt", "Farid Haddad", "Grace Okafor",
          "Hugo Rossi", "Ines Garcia", "Jonas Berg", "Kenji Sato", "Lena Novak", "Marco Bianchi", "Nadia Petrova",
          "Oliver Brown", "Priya Sharma", "Quentin Leroy", "Rosa Lopez", "Samuel Cohen", "Tara Walsh"]
PHONES = ["+33 1 42 68 53 00", "+44 20 7946 0958", "+49 30 901820", "+1 415 555 0132", "+39 06 6982 1234", "+34 912 345 678"]
NOTES = ["", "", "One previous owner", "Full service history", "Minor scratch on rear bumper", "New tyres", "Ex-demo"]
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"  # VINs never use I, O or Q

# Sheet row → (column, bad text, why): the rows README.md explains.
BROKEN = {
    5: ("Year", "20x4", "not a number"),
    9: ("Colour", "Purple", "not an option of color"),
    12: ("Listed on", "31/02/2026", "no 31 February"),
    17: ("Features", "Sunroof,Jetpack", "Jetpack is not an option of features"),
    21: ("Available", "maybe", "not a yes/no value"),
    26: ("VIN", "", "blank id: the row cannot be matched"),
    30: ("VIN", None, "the VIN of row 2 again: duplicate id"),
    33: ("Last serviced", "yesterday", "not a date and time"),
    38: ("Listing price", "52,000", "thousands separator: not a number"),
}


def make_rows(rng: random.Random) -> list[dict]:
    vins: set[str] = set()
    rows = []
    for _ in range(ROWS):
        vin = "".join(rng.choice(VIN_CHARS) for _ in range(17))
        while vin in vins:
            vin = "".join(rng.choice(VIN_CHARS) for _ in range(17))
        vins.add(vin)
        make = rng.choice(list(MODELS))
        year = rng.randint(2010, 2025)
        owner = rng.choice(OWNERS)
        serviced = dt.datetime(2025, 1, 1, 8) + dt.timedelta(days=rng.randint(0, 380), minutes=15 * rng.randint(0, 40))
        rows.append({
            "VIN": vin, "Make": make, "Model": rng.choice(MODELS[make]), "Year": year,
            "Listing price": rng.randrange(4_000, 65_000, 50),
            "Mileage (km)": rng.randint(0, 12_000) if year >= 2025 else rng.randint(5_000, 220_000),
            "Colour": rng.choice(COLOURS),
            "Listed on": dt.date(2025, 6, 1) + dt.timedelta(days=rng.randint(0, 240)),
            "Features": sorted(rng.sample(FEATURES, rng.randint(0, 4)), key=FEATURES.index),
            "Available": rng.random() < 0.8, "Owner": owner,
            "Owner email": owner.lower().replace(" ", ".") + "@example.com",
            "Dealer phone": rng.choice(PHONES), "Last serviced": serviced, "Notes": rng.choice(NOTES),
        })
    return rows


def csv_cells(row: dict) -> list[str]:
    return [row["VIN"], row["Make"], row["Model"], str(row["Year"]), str(row["Listing price"]), str(row["Mileage (km)"]),
            row["Colour"], row["Listed on"].strftime("%d/%m/%Y"), ",".join(row["Features"]),
            "Yes" if row["Available"] else "No", row["Owner"], row["Owner email"], row["Dealer phone"],
            row["Last serviced"].strftime("%Y-%m-%d %H:%M"), row["Notes"]]


def write_csv(path: Path, lines: list[list[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([HEADER, *lines])


def write_xlsx(path: Path, rows: list[dict]) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Inventory"
    sheet.append(HEADER)
    for row in rows:
        sheet.append([row["VIN"], row["Make"], row["Model"], row["Year"], row["Listing price"], row["Mileage (km)"],
                      row["Colour"], row["Listed on"], ", ".join(row["Features"]), "Yes" if row["Available"] else "No",
                      row["Owner"], row["Owner email"], row["Dealer phone"], row["Last serviced"], row["Notes"]])
    formats = {"Listing price": '#,##0 "€"', "Mileage (km)": "#,##0", "Listed on": "dd/mm/yyyy", "Last serviced": "yyyy-mm-dd hh:mm"}
    for i, name in enumerate(HEADER, start=1):
        letter = get_column_letter(i)
        head = sheet.cell(row=1, column=i)
        head.font, head.fill = Font(bold=True, color="FFFFFF"), PatternFill("solid", fgColor="305496")
        sheet.column_dimensions[letter].width = {"VIN": 22, "Features": 40, "Owner email": 28, "Notes": 30}.get(name, 16)
        for cell in sheet[letter][1:]:
            cell.number_format = formats.get(name, cell.number_format)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    about = workbook.create_sheet("About")
    about.append(["Sample inventory for syncer; see README.md."])
    workbook.save(path)


def main() -> None:
    rows = make_rows(random.Random(SEED))
    lines = [csv_cells(r) for r in rows]
    write_csv(HERE / "cars.csv", lines)
    write_xlsx(HERE / "cars.xlsx", rows)
    broken = [list(line) for line in lines]
    for sheet_row, (column, text, _why) in BROKEN.items():
        broken[sheet_row - 2][HEADER.index(column)] = lines[0][0] if text is None else text
    write_csv(HERE / "cars_with_errors.csv", broken)
    write_crm_samples(random.Random(SEED))


# --- contacts and companies (mappings/contacts.yaml, mappings/companies.yaml) ---------------------------

COMPANIES = [("C-1001", "Northwind Motors", "northwind-motors.example", "Automotive"),
             ("C-1002", "Blue Harbour Logistics", "blueharbour.example", "Logistics and Supply Chain"),
             ("C-1003", "Keystone Insurance", "keystone-insurance.example", "Insurance"),
             ("C-1004", "Orbit Software", "orbit-software.example", "Computer Software"),
             ("C-1005", "Greenfield Foods", "greenfield-foods.example", "Food & Beverages"),
             ("C-1006", "Summit Consulting", "summit-consulting.example", "Management Consulting"),
             ("C-1007", "Atlas Retail", "atlas-retail.example", "Retail"),
             ("C-1008", "Harbor Bank", "harbor-bank.example", "Banking")]
COMPANY_HEADER = ["Company number", "Name", "Domain", "Industry", "Employees", "Annual revenue", "City", "Country",
                  "Type"]
CITIES = [("Paris", "France"), ("London", "United Kingdom"), ("Berlin", "Germany"), ("Madrid", "Spain"),
          ("Rome", "Italy"), ("Boston", "United States")]
NEW_CONTACTS = ["Uma Fischer", "Victor Moreau", "Wendy Clarke", "Xavier Ortiz", "Yuki Tanaka", "Zoe Adams"]
CONTACT_HEADER = ["Email", "First name", "Last name", "Phone", "Job title", "City", "Lifecycle stage", "Company number"]
JOBS = ["Fleet manager", "Buyer", "Office manager", "CFO", "Operations lead", "Procurement officer"]
STAGES = ["Lead", "Marketing Qualified Lead", "Sales Qualified Lead", "Opportunity", "Customer"]


def write_crm_samples(rng: random.Random) -> None:
    """companies.csv (8 companies keyed by a company number) and contacts.csv (the sandbox's 20
    contacts, the first three with emails in mixed case as people type them, and 6 new ones), each
    contact's company named by its company number."""
    companies = []
    for number, name, domain, industry in COMPANIES:
        city, country = rng.choice(CITIES)
        companies.append([number, name, domain, industry, str(rng.randrange(10, 5000, 10)),
                          str(rng.randrange(500_000, 90_000_000, 50_000)), city, country,
                          rng.choice(["Prospect", "Partner", "Vendor", "Reseller"])])
    _write_table(HERE / "companies.csv", [COMPANY_HEADER, *companies])
    contacts = []
    for i, full_name in enumerate(OWNERS + NEW_CONTACTS):
        first, last = full_name.split()
        email = f"{first}.{last}@example.com"
        contacts.append([email if i < 3 else email.lower(), first, last, rng.choice(PHONES), rng.choice(JOBS),
                         rng.choice(CITIES)[0], rng.choice(STAGES), "" if i % 7 == 6 else rng.choice(COMPANIES)[0]])
    _write_table(HERE / "contacts.csv", [CONTACT_HEADER, *contacts])


def _write_table(path: Path, lines: list[list[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(lines)


def grow(folder: Path, rows: int, *, vin_prefix: str = "GROWN", changed: int = 0,
         associations: bool = True, relinked: int = 0) -> Path:
    """cars.csv in `folder`: the sample's rows repeated to `rows` rows with fresh VINs (and a new
    listing price on the first `changed`; on the first `relinked`, the Owner email of the next
    contact of OWNERS, so a push re-links those cars), and cars.yaml reading it. Returns the
    mapping's path. Without `associations` the mapping binds properties only and Owner email is
    left blank (`relinked` then changes nothing)."""
    emails = [owner.lower().replace(" ", ".") + "@example.com" for owner in OWNERS]
    with open(HERE / "cars.csv", newline="", encoding="utf-8") as f:
        sample = list(csv.DictReader(f))
    with open(folder / "cars.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(sample[0]))
        writer.writeheader()
        for i in range(rows):
            row = {**sample[i % len(sample)], "VIN": f"{vin_prefix}{i:012d}"}
            if i < changed:
                row["Listing price"] = str(100000 + i)
            if i < relinked:
                row["Owner email"] = emails[(emails.index(row["Owner email"]) + 1) % len(emails)]
            if not associations:
                row["Owner email"] = ""
            writer.writerow(row)
    text = (HERE.parent / "mappings" / "cars.yaml").read_text()
    text = text.replace("source: ../sample_data/cars.xlsx", "source: cars.csv").replace("sheet: Inventory\n", "")
    if not associations:
        text = text[:text.index("associations:")] + text[text.index("sync:"):]
    (folder / "cars.yaml").write_text(text)
    return folder / "cars.yaml"


if __name__ == "__main__":
    main()

"""The portal's definitions: object types, their properties, association types, and the sample seed.

Definitions are plain HubSpot JSON (Property §3.7, ObjectSchema §3.8, AssociationSpecWithLabel §3.9)
so endpoints return them as they are.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field

from syncer.sandbox import behaviour, errors

LEGACY_PORTAL_ID = 8470001  # the id every portal had before each got its own
EPOCH_ISO = "2026-01-01T00:00:00.000Z"  # createdAt/updatedAt of seeded definitions

VALID_FIELD_TYPES = {
    "string": {"text", "textarea", "html", "phonenumber", "file", "calculation_equation"},
    "number": {"number", "calculation_equation"},
    "date": {"date"},
    "datetime": {"date"},
    "enumeration": {"select", "radio", "checkbox", "booleancheckbox", "calculation_equation"},
    "bool": {"booleancheckbox", "calculation_equation"},
}


def property_definition(name: str, label: str, type_: str, field_type: str, *, options=(),
                        unique: bool = False, read_only: bool = False, hubspot_defined: bool = False,
                        group: str = "information", description: str = "") -> dict:
    definition = {
        "name": name, "label": label, "type": type_, "fieldType": field_type, "groupName": group,
        "description": description, "displayOrder": -1,
        "options": [{"label": o_label, "value": value, "displayOrder": i, "hidden": False}
                    for i, (o_label, value) in enumerate(options)],
        "hasUniqueValue": unique, "hidden": False, "formField": not read_only, "calculated": False,
        "externalOptions": False, "archived": False, "createdAt": EPOCH_ISO, "updatedAt": EPOCH_ISO,
        "modificationMetadata": {"archivable": not hubspot_defined, "readOnlyDefinition": hubspot_defined,
                                 "readOnlyValue": read_only, "readOnlyOptions": False},
        "dataSensitivity": "non_sensitive",
    }
    if hubspot_defined:
        definition["hubspotDefined"] = True
    return definition


@dataclass
class ObjectType:
    """One CRM object type and its property definitions."""

    object_type_id: str
    name: str
    singular: str
    plural: str
    properties: dict[str, dict]
    primary_display: str
    searchable: list[str]
    # The property names that mirror record columns: id, createdAt, updatedAt (§8).
    id_name: str = "hs_object_id"
    created_name: str = "hs_createdate"
    modified_names: tuple[str, ...] = ("hs_lastmodifieddate",)
    defaults: tuple[str, ...] = ("hs_createdate", "hs_lastmodifieddate", "hs_object_id")
    scope: str = "custom"  # crm.objects.{scope}.read / write
    error_word: str = ""  # the upper-case word of OBJECT_NOT_FOUND batch messages (§4.1)
    required: list[str] = field(default_factory=list)
    created_at: str = EPOCH_ISO
    # Property groups ({name, label, displayOrder, archived}), archived property definitions, and
    # the schema's other fields: kept by syncer/sandbox/schemas.py, which edits definitions.
    groups: list[dict] = field(default_factory=list)
    archived_properties: dict[str, dict] = field(default_factory=dict)
    secondary_display: list[str] = field(default_factory=list)
    description: str | None = None
    updated_at: str | None = None
    portal_id: int = field(kw_only=True)  # the portal's, not saved with the definition

    @property
    def custom(self) -> bool:
        return self.object_type_id.startswith("2-")

    @property
    def fully_qualified_name(self) -> str:
        return f"p{self.portal_id}_{self.name}" if self.custom else self.name

    def system_column(self, name: str) -> str | None:
        """The record column a built-in property reads from, if it is one."""
        if name == self.id_name:
            return "id"
        if name == self.created_name:
            return "created_ms"
        if name in self.modified_names:
            return "updated_ms"
        return None

    def unique_properties(self) -> set[str]:
        return {n for n, d in self.properties.items() if d["hasUniqueValue"] and n != self.id_name}

    def schema(self, associations: list[dict]) -> dict:
        return {
            "id": self.object_type_id.split("-", 1)[1], "objectTypeId": self.object_type_id,
            "name": self.name, "fullyQualifiedName": self.fully_qualified_name,
            "labels": {"singular": self.singular, "plural": self.plural},
            "primaryDisplayProperty": self.primary_display, "secondaryDisplayProperties": self.secondary_display,
            "searchableProperties": self.searchable, "requiredProperties": self.required,
            "properties": list(self.properties.values()), "associations": associations,
            "archived": False, "createdAt": self.created_at, "updatedAt": self.updated_at or self.created_at,
            **({"description": self.description} if self.description is not None else {}),
        }

    def to_json(self) -> dict:
        data = dataclasses.asdict(self)
        del data["portal_id"]
        return data

    @classmethod
    def from_json(cls, data: dict, portal_id: int) -> "ObjectType":
        return cls(**data, portal_id=portal_id)


@dataclass(frozen=True)
class AssociationType:
    type_id: int
    from_type: str  # objectTypeId
    to_type: str
    category: str  # HUBSPOT_DEFINED | USER_DEFINED
    label: str | None
    name: str  # the v3 type name

    def spec(self) -> dict:
        return {"category": self.category, "typeId": self.type_id, "label": self.label}


def custom_defaults() -> dict[str, dict]:
    """HubSpot's built-in read-only properties of a custom object (§8)."""
    defaults = [
        ("hs_object_id", "Record ID", "number", "number", False),
        ("hs_createdate", "Object create date/time", "datetime", "date", False),
        ("hs_lastmodifieddate", "Object last modified date/time", "datetime", "date", False),
        ("hs_created_by_user_id", "Created by user ID", "number", "number", False),
        ("hs_updated_by_user_id", "Updated by user ID", "number", "number", False),
        ("hs_object_source", "Record source", "string", "text", False),
        ("hs_object_source_label", "Record source label", "string", "text", False),
        ("hs_merged_object_ids", "Merged record IDs", "enumeration", "checkbox", False),
        ("hs_was_imported", "Performed in an import", "bool", "booleancheckbox", False),
        ("hs_unique_creation_key", "Unique creation key", "string", "text", True),
    ]
    return {name: property_definition(name, label, t, ft, unique=unique, read_only=True,
                                      hubspot_defined=True, group="system")
            for name, label, t, ft, unique in defaults}


COLORS = [("Red", "red"), ("Dark blue", "blue"), ("Black", "black"), ("White", "white"),
          ("Silver", "silver"), ("Green", "green")]
FEATURES = [("Sunroof", "sunroof"), ("Heated seats", "heated_seats"), ("Navigation", "navigation"),
            ("Bluetooth", "bluetooth"), ("Backup camera", "backup_camera"),
            ("Leather seats", "leather_seats")]


def cars(portal_id: int) -> ObjectType:
    p = property_definition
    own = [
        p("vin", "VIN", "string", "text", unique=True, group="car_information"),
        p("make", "Make", "string", "text", group="car_information"),
        p("model", "Model", "string", "text", group="car_information"),
        p("year", "Year", "number", "number", group="car_information"),
        p("price", "Price", "number", "number", group="car_information"),
        p("mileage", "Mileage", "number", "number", group="car_information"),
        p("color", "Color", "enumeration", "select", options=COLORS, group="car_information"),
        p("listing_date", "Listing date", "date", "date", group="car_information"),
        p("features", "Features", "enumeration", "checkbox", options=FEATURES, group="car_information"),
        p("available", "Available", "bool", "booleancheckbox",
          options=[("True", "true"), ("False", "false")], group="car_information"),
        p("owner", "Owner", "string", "text", group="car_information"),
        p("dealer_phone", "Dealer phone", "string", "phonenumber", group="car_information"),
        p("last_serviced_at", "Last serviced at", "datetime", "date", group="car_information"),
        p("hs_pinned_engagement_id", "Pinned engagement ID", "number", "number",
          hubspot_defined=True, group="system"),
    ]
    properties = custom_defaults() | {d["name"]: d for d in own}
    return ObjectType("2-3465404", "cars", "Car", "Cars", properties, primary_display="vin",
                      searchable=["vin", "make", "model", "owner"],
                      error_word="CARS", portal_id=portal_id)


def contacts(portal_id: int) -> ObjectType:
    p = property_definition
    system = dict(read_only=True, hubspot_defined=True, group="contactinformation")
    own = [
        p("hs_object_id", "Record ID", "number", "number", **system),
        p("createdate", "Create Date", "datetime", "date", **system),
        p("lastmodifieddate", "Last Modified Date", "datetime", "date", **system),
        p("email", "Email", "string", "text", unique=True, hubspot_defined=True, group="contactinformation"),
        p("firstname", "First Name", "string", "text", hubspot_defined=True, group="contactinformation"),
        p("lastname", "Last Name", "string", "text", hubspot_defined=True, group="contactinformation"),
        p("phone", "Phone Number", "string", "phonenumber", hubspot_defined=True, group="contactinformation"),
        p("company", "Company Name", "string", "text", hubspot_defined=True, group="contactinformation"),
        p("city", "City", "string", "text", hubspot_defined=True, group="contactinformation"),
    ]
    return ObjectType("0-1", "contacts", "Contact", "Contacts", {d["name"]: d for d in own},
                      primary_display="email", searchable=["email", "firstname", "lastname", "phone", "company"],
                      created_name="createdate", modified_names=("lastmodifieddate",),
                      defaults=("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
                      scope="contacts", error_word="CONTACT", portal_id=portal_id)


def companies(portal_id: int) -> ObjectType:
    p = property_definition
    system = dict(read_only=True, hubspot_defined=True, group="companyinformation")
    own = [
        p("hs_object_id", "Record ID", "number", "number", **system),
        p("createdate", "Create Date", "datetime", "date", **system),
        p("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", **system),
        p("domain", "Company Domain Name", "string", "text", unique=True, hubspot_defined=True,
          group="companyinformation"),
        p("name", "Name", "string", "text", hubspot_defined=True, group="companyinformation"),
        p("city", "City", "string", "text", hubspot_defined=True, group="companyinformation"),
        p("phone", "Phone Number", "string", "phonenumber", hubspot_defined=True, group="companyinformation"),
    ]
    return ObjectType("0-2", "companies", "Company", "Companies", {d["name"]: d for d in own},
                      primary_display="name", searchable=["name", "domain", "phone"],
                      created_name="createdate",
                      defaults=("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
                      scope="companies", error_word="COMPANY", portal_id=portal_id)


def seed_association_types() -> list[AssociationType]:
    """Car↔contact (unlabeled default plus the `car_owner` label) and contact↔company, both ways."""
    return [
        AssociationType(75, "2-3465404", "0-1", "USER_DEFINED", None, "cars_to_contacts"),
        AssociationType(76, "0-1", "2-3465404", "USER_DEFINED", None, "contacts_to_cars"),
        AssociationType(77, "2-3465404", "0-1", "USER_DEFINED", "Car owner", "car_owner"),
        AssociationType(78, "0-1", "2-3465404", "USER_DEFINED", "Car owner", "car_owner"),
        AssociationType(279, "0-1", "0-2", "HUBSPOT_DEFINED", None, "contact_to_company_unlabeled"),
        AssociationType(280, "0-2", "0-1", "HUBSPOT_DEFINED", None, "company_to_contact_unlabeled"),
        AssociationType(1, "0-1", "0-2", "HUBSPOT_DEFINED", "Primary", "contact_to_company"),
        AssociationType(2, "0-2", "0-1", "HUBSPOT_DEFINED", "Primary", "company_to_contact"),
    ]


SEED_CONTACTS = [
    "Alice Martin", "Bruno Silva", "Chloe Dubois", "Daniel Kim", "Emma Schmidt", "Farid Haddad",
    "Grace Okafor", "Hugo Rossi", "Ines Garcia", "Jonas Berg", "Kenji Sato", "Lena Novak",
    "Marco Bianchi", "Nadia Petrova", "Oliver Brown", "Priya Sharma", "Quentin Leroy", "Rosa Lopez",
    "Samuel Cohen", "Tara Walsh",
]


def seed_contact_properties() -> list[dict[str, str]]:
    rows = []
    for full_name in SEED_CONTACTS:
        first, last = full_name.split()
        rows.append({"firstname": first, "lastname": last, "email": f"{first}.{last}@example.com".lower()})
    return rows


def new_portal_id() -> int:
    """A fresh portal's id, random like a real hub id, so no two sandboxes are the same portal."""
    return random.SystemRandom().randint(10_000_000, 99_999_999)


class Registry:
    """One portal's object types and association types, resolved from the names HubSpot accepts (§1)."""

    def __init__(self, portal_id: int, object_types: list[ObjectType],
                 association_types: list[AssociationType]) -> None:
        self.portal_id = portal_id
        self.object_types = {t.object_type_id: t for t in object_types}
        self.association_types = list(association_types)
        from syncer.sandbox import standard  # it builds on this module

        standard.complete(self)  # every portal has HubSpot's standard objects

    def resolve(self, name: str) -> ObjectType:
        for object_type in self.object_types.values():
            if name in (object_type.object_type_id, object_type.fully_qualified_name):
                return object_type
            if name == object_type.name and (not object_type.custom or behaviour.ACCEPT_BARE_CUSTOM_NAME):
                return object_type
        # Standard objects also answer to their singular name (`contact`).
        for object_type in self.object_types.values():
            if not object_type.custom and name.lower() == object_type.singular.lower():
                return object_type
        raise errors.unknown_object_type(name)

    def custom_types(self) -> list[ObjectType]:
        return [t for t in self.object_types.values() if t.custom]

    def association_labels(self, from_type: str, to_type: str) -> list[AssociationType]:
        return [a for a in self.association_types if a.from_type == from_type and a.to_type == to_type]

    def association_type(self, from_type: str, key: str, to_type: str | None = None) -> AssociationType | None:
        """The type by numeric id or v3 name, leaving from `from_type` (and reaching `to_type`)."""
        for a in self.association_types:
            if a.from_type == from_type and (to_type is None or a.to_type == to_type) \
                    and (str(a.type_id) == str(key) or a.name == key):
                return a
        return None

    def definitions(self, object_type: ObjectType) -> list[dict]:
        """The schema's `associations` (AssociationDefinition, §3.8)."""
        return [{"id": str(a.type_id), "fromObjectTypeId": a.from_type, "toObjectTypeId": a.to_type,
                 "name": a.name, "createdAt": EPOCH_ISO, "updatedAt": EPOCH_ISO}
                for a in self.association_types if a.from_type == object_type.object_type_id]

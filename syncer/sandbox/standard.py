"""HubSpot's standard objects as every portal has them: contacts, companies and deals, with their
core properties, property groups and HUBSPOT_DEFINED association types (reference §8, §3.9).

`complete` adds whatever of them a registry lacks, so a store saved before they were modelled
gains them too, as every real portal has them. Only properties a portal is missing are added: a
definition already there (edited, or given options) is left as it is.
"""

from __future__ import annotations

from syncer.sandbox.portal import AssociationType, ObjectType, Registry, property_definition

LIFECYCLE_STAGES = [("Subscriber", "subscriber"), ("Lead", "lead"),
                    ("Marketing Qualified Lead", "marketingqualifiedlead"),
                    ("Sales Qualified Lead", "salesqualifiedlead"), ("Opportunity", "opportunity"),
                    ("Customer", "customer"), ("Evangelist", "evangelist"), ("Other", "other")]
LEAD_STATUSES = [("New", "NEW"), ("Open", "OPEN"), ("In Progress", "IN_PROGRESS"), ("Open Deal", "OPEN_DEAL"),
                 ("Unqualified", "UNQUALIFIED"), ("Attempted to Contact", "ATTEMPTED_TO_CONTACT"),
                 ("Connected", "CONNECTED"), ("Bad Timing", "BAD_TIMING")]
INDUSTRIES = [("Accounting", "ACCOUNTING"), ("Airlines/Aviation", "AIRLINES_AVIATION"),
              ("Automotive", "AUTOMOTIVE"), ("Banking", "BANKING"), ("Computer Software", "COMPUTER_SOFTWARE"),
              ("Construction", "CONSTRUCTION"), ("Financial Services", "FINANCIAL_SERVICES"),
              ("Food & Beverages", "FOOD_BEVERAGES"), ("Hospital & Health Care", "HOSPITAL_HEALTH_CARE"),
              ("Information Technology and Services", "INFORMATION_TECHNOLOGY_AND_SERVICES"),
              ("Insurance", "INSURANCE"), ("Logistics and Supply Chain", "LOGISTICS_AND_SUPPLY_CHAIN"),
              ("Management Consulting", "MANAGEMENT_CONSULTING"), ("Retail", "RETAIL"),
              ("Telecommunications", "TELECOMMUNICATIONS")]
COMPANY_TYPES = [("Prospect", "PROSPECT"), ("Partner", "PARTNER"), ("Reseller", "RESELLER"),
                 ("Vendor", "VENDOR"), ("Other", "OTHER")]
DEAL_STAGES = [("Appointment Scheduled", "appointmentscheduled"), ("Qualified To Buy", "qualifiedtobuy"),
               ("Presentation Scheduled", "presentationscheduled"),
               ("Decision Maker Bought-In", "decisionmakerboughtin"), ("Contract Sent", "contractsent"),
               ("Closed Won", "closedwon"), ("Closed Lost", "closedlost")]

# (name, label, type, fieldType, options, read-only value)
CORE = {
    "0-1": ("contactinformation", "Contact information", [
        ("mobilephone", "Mobile Phone Number", "string", "phonenumber", (), False),
        ("jobtitle", "Job Title", "string", "text", (), False),
        ("website", "Website URL", "string", "text", (), False),
        ("address", "Street Address", "string", "text", (), False),
        ("state", "State/Region", "string", "text", (), False),
        ("zip", "Postal Code", "string", "text", (), False),
        ("country", "Country/Region", "string", "text", (), False),
        ("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", LIFECYCLE_STAGES, False),
        ("hs_lead_status", "Lead Status", "enumeration", "radio", LEAD_STATUSES, False),
        ("hs_email_domain", "Email Domain", "string", "text", (), True),
    ]),
    "0-2": ("companyinformation", "Company information", [
        ("website", "Website URL", "string", "text", (), False),
        ("address", "Street Address", "string", "text", (), False),
        ("state", "State/Region", "string", "text", (), False),
        ("zip", "Postal Code", "string", "text", (), False),
        ("country", "Country/Region", "string", "text", (), False),
        ("industry", "Industry", "enumeration", "select", INDUSTRIES, False),
        ("numberofemployees", "Number of Employees", "number", "number", (), False),
        ("annualrevenue", "Annual Revenue", "number", "number", (), False),
        ("description", "Description", "string", "textarea", (), False),
        ("type", "Type", "enumeration", "select", COMPANY_TYPES, False),
        ("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", LIFECYCLE_STAGES, False),
    ]),
    "0-3": ("dealinformation", "Deal information", [
        ("hs_object_id", "Record ID", "number", "number", (), True),
        ("createdate", "Create Date", "datetime", "date", (), True),
        ("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", (), True),
        ("dealname", "Deal Name", "string", "text", (), False),
        ("amount", "Amount", "number", "number", (), False),
        ("dealstage", "Deal Stage", "enumeration", "radio", DEAL_STAGES, False),
        ("pipeline", "Pipeline", "enumeration", "select", [("Sales Pipeline", "default")], False),
        ("closedate", "Close Date", "datetime", "date", (), False),
        ("dealtype", "Deal Type", "enumeration", "radio",
         [("New Business", "newbusiness"), ("Existing Business", "existingbusiness")], False),
        ("description", "Deal Description", "string", "textarea", (), False),
        ("hs_priority", "Priority", "enumeration", "select", [("Low", "low"), ("Medium", "medium"),
                                                              ("High", "high")], False),
    ]),
}


def deals(portal_id: int) -> ObjectType:
    return ObjectType("0-3", "deals", "Deal", "Deals", {}, primary_display="dealname", searchable=["dealname"],
                      created_name="createdate",
                      defaults=("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate",
                                "hs_object_id", "pipeline"),
                      scope="deals", error_word="DEAL", portal_id=portal_id)


def association_types() -> list[AssociationType]:
    """Deal↔contact and deal↔company (unlabeled, and the Primary company), with HubSpot's type ids."""
    return [
        AssociationType(3, "0-3", "0-1", "HUBSPOT_DEFINED", None, "deal_to_contact"),
        AssociationType(4, "0-1", "0-3", "HUBSPOT_DEFINED", None, "contact_to_deal"),
        AssociationType(341, "0-3", "0-2", "HUBSPOT_DEFINED", None, "deal_to_company_unlabeled"),
        AssociationType(342, "0-2", "0-3", "HUBSPOT_DEFINED", None, "company_to_deal_unlabeled"),
        AssociationType(5, "0-3", "0-2", "HUBSPOT_DEFINED", "Primary", "deal_to_company"),
        AssociationType(6, "0-2", "0-3", "HUBSPOT_DEFINED", "Primary", "company_to_deal"),
    ]


def complete(registry: Registry) -> None:
    """Give `registry` the standard objects, core properties and association types it lacks."""
    if "0-3" not in registry.object_types:
        registry.object_types["0-3"] = deals(registry.portal_id)
    for type_id, (group, label, rows) in CORE.items():
        object_type = registry.object_types.get(type_id)
        if object_type is None:
            continue
        for name, prop_label, type_, field_type, options, read_only in rows:
            if name not in object_type.properties and name not in object_type.archived_properties:
                object_type.properties[name] = property_definition(
                    name, prop_label, type_, field_type, options=options, read_only=read_only,
                    hubspot_defined=True, group=group)
        if not any(g["name"] == group for g in object_type.groups):
            object_type.groups.append({"name": group, "label": label, "displayOrder": -1, "archived": False})
    taken = {a.type_id for a in registry.association_types}
    for kind in association_types():
        if kind.type_id not in taken and {kind.from_type, kind.to_type} <= set(registry.object_types):
            registry.association_types.append(kind)

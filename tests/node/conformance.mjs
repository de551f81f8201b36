// Drives syncer's sandbox with HubSpot's official Node client (@hubspot/api-client, pinned in
// package.json) and prints one JSON object of what it saw; tests/test_conformance_node_client.py
// asserts the facts. The client builds requests from HubSpot's API definitions and deserializes
// every answer into its models (dates into Date objects, errors into ApiException), so a request the
// sandbox misreads, or an answer the client cannot take, shows up here.
//
//   node tests/node/conformance.mjs <base_url> <token>
//
// Exits 0 after printing the facts, or prints the error (as JSON on stdout) and exits 1.
import hubspot from "@hubspot/api-client";

const CARS = "2-3465404";

const isDate = (value) => value instanceof Date && !Number.isNaN(value.getTime());

// The facts of an error the client threw: its HTTP status and the parsed error body.
async function failure(call) {
  try {
    await call();
  } catch (error) {
    const body = error.body ?? {};
    return {
      status: error.code ?? error.statusCode ?? null,
      category: body.category ?? null,
      hasMessage: Boolean(body.message),
      hasCorrelationId: Boolean(body.correlationId),
      errorCodes: (body.errors ?? []).map((e) => e.code ?? null),
      propertyNames: (body.errors ?? []).flatMap((e) => e.context?.propertyName ?? []),
    };
  }
  throw new Error("expected the call to fail, but it succeeded");
}

async function main(baseUrl, accessToken) {
  const client = new hubspot.Client({ accessToken, basePath: baseUrl });
  const facts = {};

  // --- schemas and properties ---------------------------------------------------------------------
  const schemas = (await client.crm.schemas.coreApi.getAll()).results;
  const cars = schemas.filter((s) => s.objectTypeId === CARS);
  if (cars.length !== 1) throw new Error(`expected one cars schema, found ${cars.length}`);
  const [schema] = cars;
  facts.schema = {
    objectTypeId: schema.objectTypeId,
    fullyQualifiedName: schema.fullyQualifiedName,
    pluralLabel: schema.labels?.plural ?? null,
    createdAtIsDate: isDate(schema.createdAt),
  };
  facts.schemaById = (await client.crm.schemas.coreApi.getById(schema.fullyQualifiedName)).objectTypeId;
  const found = Object.fromEntries(
    (await client.crm.properties.coreApi.getAll(CARS)).results.map((p) => [p.name, p]));
  facts.properties = {
    names: Object.keys(found).sort(),
    vinUnique: found.vin?.hasUniqueValue ?? null,
    colorType: found.color?.type ?? null,
    colorOptions: (found.color?.options ?? []).length,
    priceType: (await client.crm.properties.coreApi.getByName(CARS, "price")).type,
  };

  // --- one record ---------------------------------------------------------------------------------
  const made = await client.crm.objects.basicApi.create(CARS, {
    properties: { vin: "NODE1", price: "52000.0", color: "red", year: "2019" }, associations: [] });
  const got = await client.crm.objects.basicApi.getById(
    CARS, "NODE1", ["price", "color", "make"], undefined, undefined, false, "vin");
  facts.created = {
    vin: made.properties.vin,
    price: made.properties.price,
    datesParsed: isDate(made.createdAt) && isDate(made.updatedAt),
    readByVinSameId: got.id === made.id,
    readColor: got.properties.color,
    readMake: got.properties.make,
  };

  // --- batch create, then batch read by the vin idProperty -----------------------------------------
  const created = await client.crm.objects.batchApi.create(CARS, { inputs: [
    { properties: { vin: "NODE2", price: "10", year: "2021" }, associations: [], objectWriteTraceId: "0" },
    { properties: { vin: "NODE3", price: "20", year: "2023" }, associations: [], objectWriteTraceId: "1" },
  ] });
  const ids = Object.fromEntries(created.results.map((r) => [r.properties.vin, r.id]));
  facts.batchCreate = {
    status: created.status,
    vins: Object.keys(ids).sort(),
    datesParsed: isDate(created.startedAt) && isDate(created.completedAt),
  };
  const read = await client.crm.objects.batchApi.read(CARS, {
    inputs: [{ id: "NODE2" }, { id: "NODE3" }, { id: "MISSING" }], idProperty: "vin",
    properties: ["vin", "price"], propertiesWithHistory: [] });
  facts.batchRead = {
    status: read.status,
    sameIds: read.results.every((r) => ids[r.properties.vin] === r.id),
    vins: read.results.map((r) => r.properties.vin).sort(),
    prices: Object.fromEntries(read.results.map((r) => [r.properties.vin, r.properties.price])),
    numErrors: read.numErrors ?? 0,
    errorCategory: read.errors?.[0]?.category ?? null,
    errorIds: read.errors?.[0]?.context?.ids ?? null,
  };

  // --- search ---------------------------------------------------------------------------------------
  const request = {
    filterGroups: [{ filters: [{ propertyName: "year", operator: "GTE", value: "2020" }] }],
    // The client types sorts as Array<string>; it passes this object through as is, and the sandbox,
    // like the Python test, takes HubSpot's documented {propertyName, direction} form.
    sorts: [{ propertyName: "year", direction: "DESCENDING" }], properties: ["vin", "year"], limit: 1, after: "0" };
  const first = await client.crm.objects.searchApi.doSearch(CARS, request);
  const second = await client.crm.objects.searchApi.doSearch(CARS, { ...request, after: first.paging?.next?.after });
  facts.search = {
    total: first.total,
    firstVin: first.results[0]?.properties.vin ?? null,
    nextAfter: first.paging?.next?.after ?? null,
    secondVin: second.results[0]?.properties.vin ?? null,
    secondHasNext: Boolean(second.paging?.next),
  };
  facts.searchTotal = first.total;

  // --- error answers -------------------------------------------------------------------------------
  const unknown = await failure(() => client.crm.objects.basicApi.create(CARS, {
    properties: { vin: "NODE4", nope: "1" }, associations: [] }));
  facts.errorStatus = unknown.status;
  facts.errorCategory = unknown.category;
  facts.unknownProperty = unknown;
  facts.missingRecord = await failure(() => client.crm.objects.basicApi.getById(CARS, "999999999"));
  facts.duplicateProperty = await failure(() => client.crm.properties.coreApi.create(CARS, {
    name: "vin", label: "VIN", type: "string", fieldType: "text", groupName: "car_information" }));

  // --- associations v4 ----------------------------------------------------------------------------
  const contact = (await client.crm.objects.basicApi.getPage("contacts", 1)).results[0].id;
  const labels = (await client.crm.associations.v4.schema.definitionsApi.getAll(CARS, "contacts")).results;
  const owner = labels.find((k) => k.label === "Car owner");
  if (!owner) throw new Error(`no "Car owner" label between cars and contacts: ${JSON.stringify(labels)}`);
  const linked = await client.crm.associations.v4.batchApi.create(CARS, "contacts", { inputs: [{
    _from: { id: made.id }, to: { id: contact },
    types: [{ associationCategory: owner.category, associationTypeId: owner.typeId }] }] });
  const page = await client.crm.associations.v4.batchApi.getPage(CARS, "contacts", {
    inputs: [{ id: made.id }, { id: ids.NODE2 }] });
  const mine = page.results.find((r) => r._from.id === made.id);
  facts.associations = {
    createStatus: linked.status,
    createdTo: String(linked.results[0]?.toObjectId),
    createdLabels: linked.results[0]?.labels ?? null,
    contact,
    readTo: (mine?.to ?? []).map((t) => String(t.toObjectId)),
    readLabels: (mine?.to ?? []).flatMap((t) => t.associationTypes.map((a) => a.label)),
    readResults: page.results.length,
    numErrors: page.numErrors ?? 0,
    errorCategory: page.errors?.[0]?.category ?? null,
  };
  return facts;
}

const [baseUrl, token] = process.argv.slice(2);
if (!baseUrl || !token) {
  console.error("usage: node conformance.mjs <base_url> <token>");
  process.exit(2);
}
try {
  console.log(JSON.stringify(await main(baseUrl, token)));
} catch (error) {
  const shown = { error: String(error?.message ?? error), code: error?.code ?? null, body: error?.body ?? null,
                  stack: error?.stack ?? null };
  console.log(JSON.stringify(shown));
  process.exit(1);
}

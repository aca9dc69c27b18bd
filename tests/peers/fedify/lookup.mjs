#!/usr/bin/env node
// Independent ActivityPub peer for Chapterhouse interop tests.
//
// Usage: node lookup.mjs URL [URL ...]
//
// For each URL, asks the real Fedify library (@fedify/fedify, pinned in
// package.json) to look the object up with ctx.lookupObject() and prints ONE
// JSON line to stdout describing what Fedify parsed, using Fedify's own
// accessors (never the raw JSON we were served).  Failures print
// {"url": ..., "ok": false, "error": ...}.  Exit code is 0 unless no URL
// was given (2).
//
// Every HTTP request Fedify makes is recorded ("fetched"), and every JSON-LD
// context it asked its context loader for is listed ("contextsRequested"),
// with the subset that actually went over the network ("contextsFetched";
// contexts Fedify ships preloaded never hit the network).
//
// Environment: FEDIFY_LOOKUP_TIMEOUT_MS (default 15000) bounds each lookup.

// Fedify 2.x declares Node >= 22.  On Node 20 the only missing global it
// touches is `navigator` (a bare `navigator?.userAgent` in importJwk, which
// throws ReferenceError when undeclared).  Temporal and URLPattern are
// imported from polyfill packages by Fedify itself, so nothing else is needed.
if (typeof globalThis.navigator === "undefined") {
  globalThis.navigator = { userAgent: `Node.js/${process.versions.node}` };
}

const urls = process.argv.slice(2);
if (urls.length === 0) {
  process.stderr.write("usage: node lookup.mjs URL [URL ...]\n");
  process.exit(2);
}

// ---------------------------------------------------------------------------
// Network recording: Fedify calls the global fetch at call time (document
// loader and WebFinger client), so wrapping it sees every request.
let requests = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const url = typeof input === "string"
    ? input
    : input instanceof URL ? input.href : input.url;
  const entry = { url };
  requests.push(entry);
  try {
    const response = await realFetch(input, init);
    entry.status = response.status;
    return response;
  } catch (error) {
    entry.error = String(error?.message ?? error);
    throw error;
  }
};

// ---------------------------------------------------------------------------
// Log capture: Fedify reports why a lookup returned null only via LogTape
// (debug level), so collect its records per lookup.
const { configure } = await import("@logtape/logtape");
let logRecords = [];
function renderLog(record) {
  const parts = record.message.map((part, i) => {
    if (i % 2 === 0) return part;
    if (part instanceof Error) return `${part.name}: ${part.message}`;
    if (typeof part === "string") return part;
    try {
      return JSON.stringify(part);
    } catch {
      return String(part);
    }
  });
  return `${record.level}: ${record.category.join(".")}: ${parts.join("")}`;
}
await configure({
  sinks: { capture: (record) => logRecords.push(record) },
  loggers: [
    { category: ["logtape", "meta"], sinks: [], lowestLevel: "error" },
    { category: ["fedify"], sinks: ["capture"], lowestLevel: "debug" },
  ],
});

const { createFederation, MemoryKvStore } = await import("@fedify/fedify");
const vocab = await import("@fedify/fedify/vocab");
const runtime = await import("@fedify/fedify/runtime");

const timeoutMs = Number(process.env.FEDIFY_LOOKUP_TIMEOUT_MS ?? 15000);

// ---------------------------------------------------------------------------
// Helpers turning Fedify's parsed values into JSON.
const href = (u) => (u == null ? null : u.href ?? String(u));
const str = (v) => (v == null ? null : v.toString());
const bool = (v) => (v == null ? null : Boolean(v));
const instant = (v) => (v == null ? null : v.toString());

function shortType(obj) {
  const typeId = vocab.getTypeId(obj);
  if (typeId == null) return null;
  const h = typeId.href;
  const i = Math.max(h.lastIndexOf("#"), h.lastIndexOf("/"));
  return h.slice(i + 1);
}

function linkOrUrl(v) {
  if (v == null) return null;
  if (v instanceof URL) return v.href;
  if (v instanceof vocab.Link) {
    return {
      type: shortType(v),
      href: href(v.href),
      mediaType: v.mediaType ?? null,
      rel: v.rels?.length ? v.rels : null,
      name: str(v.name),
    };
  }
  return String(v);
}

async function exportPem(key) {
  try {
    return await runtime.exportSpki(key);
  } catch (error) {
    return `unexportable: ${error?.message ?? error}`;
  }
}

async function keyAlgorithm(key) {
  if (key == null) return null;
  const alg = { name: key.algorithm?.name ?? null };
  if (key.algorithm?.hash?.name) alg.hash = key.algorithm.hash.name;
  if (key.algorithm?.modulusLength) alg.modulusLength = key.algorithm.modulusLength;
  return alg;
}

async function describeCryptographicKey(k) {
  return {
    id: href(k.id),
    type: shortType(k),
    owner: href(k.ownerId),
    algorithm: await keyAlgorithm(k.publicKey),
    pem: k.publicKey == null ? null : await exportPem(k.publicKey),
  };
}

async function describeMultikey(k) {
  let multibase = null;
  if (k.publicKey != null) {
    try {
      multibase = await runtime.exportMultibaseKey(k.publicKey);
    } catch (error) {
      multibase = `unexportable: ${error?.message ?? error}`;
    }
  }
  return {
    id: href(k.id),
    type: shortType(k),
    controller: href(k.controllerId),
    algorithm: await keyAlgorithm(k.publicKey),
    publicKeyMultibase: multibase,
  };
}

// Generic view of an embedded object (icon, image, location, attachment...).
async function describeEmbedded(o) {
  if (o == null) return null;
  if (o instanceof URL) return { id: o.href };
  if (o instanceof vocab.Link) return linkOrUrl(o);
  const out = { type: shortType(o), id: href(o.id) };
  const add = (k, v) => {
    if (v != null && !(Array.isArray(v) && v.length === 0)) out[k] = v;
  };
  add("name", str(o.name));
  add("summary", str(o.summary));
  add("content", str(o.content));
  add("mediaType", o.mediaType ?? null);
  if (o.urls?.length) add("url", linkOrUrl(o.url));
  if (o instanceof vocab.Place) {
    add("latitude", o.latitude ?? null);
    add("longitude", o.longitude ?? null);
    add("altitude", o.altitude ?? null);
    add("accuracy", o.accuracy ?? null);
    add("radius", o.radius ?? null);
    add("units", o.units ?? null);
  }
  if (o instanceof vocab.PropertyValue) add("value", str(o.value));
  return out;
}

// Calls fn(); on error records it in errors[field] and returns fallback.
async function guard(errors, field, fn, fallback = null) {
  try {
    return await fn();
  } catch (error) {
    errors[field] = String(error?.message ?? error);
    return fallback;
  }
}

async function collect(iterable) {
  const out = [];
  for await (const item of iterable) out.push(item);
  return out;
}

async function describe(obj, loaders) {
  const errors = {};
  const out = {
    type: shortType(obj),
    typeUri: href(vocab.getTypeId(obj)),
    isActor: vocab.isActor(obj),
    id: href(obj.id),
    name: str(obj.name),
    summary: str(obj.summary),
    url: linkOrUrl(obj.url),
    urls: (obj.urls ?? []).map(linkOrUrl),
    published: instant(obj.published),
    updated: instant(obj.updated),
    sensitive: bool(obj.sensitive),
    mediaType: obj.mediaType ?? null,
  };
  if (vocab.isActor(obj)) {
    Object.assign(out, {
      preferredUsername: str(obj.preferredUsername),
      inbox: href(obj.inboxId),
      outbox: href(obj.outboxId),
      followers: href(obj.followersId),
      following: href(obj.followingId),
      liked: href(obj.likedId),
      featured: href(obj.featuredId),
      featuredTags: href(obj.featuredTagsId),
      sharedInbox: href(obj.endpoints?.sharedInbox),
      endpoints: obj.endpoints == null ? null : {
        sharedInbox: href(obj.endpoints.sharedInbox),
        proxyUrl: href(obj.endpoints.proxyUrl),
        oauthAuthorizationEndpoint: href(obj.endpoints.oauthAuthorizationEndpoint),
        oauthTokenEndpoint: href(obj.endpoints.oauthTokenEndpoint),
      },
      discoverable: bool(obj.discoverable),
      indexable: bool(obj.indexable),
      manuallyApprovesFollowers: bool(obj.manuallyApprovesFollowers),
      suspended: bool(obj.suspended),
      memorial: bool(obj.memorial),
      aliases: (obj.aliasIds ?? []).map(href),
      successor: href(obj.successorId),
      publicKeyIds: (obj.publicKeyIds ?? []).map(href),
      assertionMethodIds: (obj.assertionMethodIds ?? []).map(href),
    });
    const pk = await guard(errors, "publicKey", () => obj.getPublicKey(loaders));
    out.publicKey = pk == null ? null : await describeCryptographicKey(pk);
    const pks = await guard(errors, "publicKeys", () => collect(obj.getPublicKeys(loaders)), []);
    out.publicKeys = await Promise.all(pks.map(describeCryptographicKey));
    const ams = await guard(errors, "assertionMethods", () => collect(obj.getAssertionMethods(loaders)), []);
    out.assertionMethods = await Promise.all(ams.map(describeMultikey));
  }
  out.iconId = href(obj.iconId);
  out.icon = await guard(errors, "icon", async () => describeEmbedded(await obj.getIcon(loaders)));
  out.imageId = href(obj.imageId);
  out.image = await guard(errors, "image", async () => describeEmbedded(await obj.getImage(loaders)));
  out.locationIds = (obj.locationIds ?? []).map(href);
  const locs = await guard(errors, "location", () => collect(obj.getLocations(loaders)), []);
  out.locations = await Promise.all(locs.map(describeEmbedded));
  out.location = out.locations[0] ?? null;
  const atts = await guard(errors, "attachments", () => collect(obj.getAttachments(loaders)), []);
  out.attachments = await Promise.all(atts.map(describeEmbedded));
  out.tagIds = (obj.tagIds ?? []).map(href);
  // Fedify re-serialising its own parsed model (not the document we served).
  out.reserialized = await guard(errors, "reserialized", () =>
    obj.toJsonLd({ format: "compact", contextLoader: loaders.contextLoader }));
  if (Object.keys(errors).length > 0) out.fieldErrors = errors;
  return out;
}

// ---------------------------------------------------------------------------
for (const url of urls) {
  requests = [];
  logRecords = [];
  const contextsRequested = [];
  let line;
  try {
    // A fresh federation per URL so no cache leaks between lookups.
    // allowPrivateAddress lets the default document loader fetch
    // 127.0.0.1 over plain http.  (With it on, Fedify forbids custom
    // documentLoader/contextLoader factories, so we wrap per call instead.)
    const federation = createFederation({
      kv: new MemoryKvStore(),
      allowPrivateAddress: true,
    });
    const ctx = federation.createContext(new URL("http://127.0.0.1/"), undefined);
    const baseContextLoader = ctx.contextLoader;
    const contextLoader = (u, options) => {
      contextsRequested.push(new URL(u).href);
      return baseContextLoader(u, options);
    };
    const documentLoader = ctx.documentLoader;
    const signal = AbortSignal.timeout(timeoutMs);
    const loaders = { documentLoader, contextLoader, signal };
    const obj = await ctx.lookupObject(url, { documentLoader, contextLoader, signal });
    if (obj == null) {
      // Fedify only says why via its logs; surface the most telling one.
      const why = [...logRecords].reverse().find((r) =>
        r.level === "warning" || r.level === "error" || r.level === "fatal"
      ) ?? [...logRecords].reverse().find((r) => /fail/i.test(renderLog(r)));
      line = {
        url,
        ok: false,
        error: "lookupObject returned null" + (why ? `: ${renderLog(why)}` : ""),
      };
    } else {
      line = { url, ok: true, ...(await describe(obj, loaders)) };
      // describe() may overwrite "url" with the object's url property.
      line.objectUrl = line.url;
      line.url = url;
    }
  } catch (error) {
    line = { url, ok: false, error: `${error?.name ?? "Error"}: ${error?.message ?? error}` };
  }
  const fetched = requests.map((r) => r.url);
  line.fetched = fetched;
  line.requests = requests;
  line.contextsRequested = [...new Set(contextsRequested)];
  line.contextsFetched = line.contextsRequested.filter((c) => fetched.includes(c));
  line.warnings = logRecords
    .filter((r) => r.level === "warning" || r.level === "error" || r.level === "fatal")
    .map(renderLog);
  if (!line.ok) line.log = logRecords.map(renderLog);
  process.stdout.write(JSON.stringify(line) + "\n");
}
process.exit(0);

#!/usr/bin/env node
// Independent ActivityPub *server* peer for Chapterhouse interop tests, built
// on the real Fedify library (@fedify/fedify, pinned in package.json).
//
// Usage: node server.mjs --port PORT
//          [--first-knock rfc9421|draft-cavage-http-signatures-12]
//          [--rsa-bits 2048|3072|4096]   (default 2048)
//
// Serves http://127.0.0.1:PORT (that exact origin; --port 0 picks a free
// port) and prints ONE line "READY http://127.0.0.1:PORT" to stdout once it
// is listening.  Runs until SIGTERM/SIGINT.  Fedify's warnings/errors go to
// stderr (FEDIFY_PEER_LOG=debug|info|warning|error|off changes the level).
//
// One local actor, "alice" (Person, /users/alice), with an RSA-2048
// (RSASSA-PKCS1-v1_5) and an Ed25519 key pair generated at start.  Fedify
// does all of the federation work: WebFinger, actor/object serving, strict
// signature verification of incoming activities (skipSignatureVerification
// is never set), HTTP Signatures / Linked Data Signatures / Object Integrity
// Proofs on outgoing activities, and double-knocking (RFC 9421 first, then
// draft-cavage on 4xx).
//
// Control API (plain JSON, handled before Fedify sees the request):
//   GET  /_control/info              origin, actor ids, key ids
//   GET  /_control/received          activities Fedify verified and delivered
//                                     to an inbox listener
//   GET  /_control/inbox-requests    every POST to an inbox with Fedify's
//                                     status code and its warnings/errors
//   GET  /_control/outgoing          every HTTP request Fedify made (lookups,
//                                     key fetches, deliveries incl. each
//                                     double-knock attempt and its scheme)
//   GET  /_control/followers         ids of alice's followers (JSON array)
//   GET  /_control/following         alice's outgoing follows and their state
//   POST /_control/follow    {"target": URL|handle, "preferSharedInbox"?: bool}
//   POST /_control/unfollow  {"target": URL|handle, "preferSharedInbox"?: bool}
//   POST /_control/note      {"to": URL|handle, "content": "<p>..</p>",
//                             "public"?: bool (default true: cc Public),
//                             "mention"?: bool, "inReplyTo"?: URL,
//                             "preferSharedInbox"?: bool}
//   POST /_control/vote      {"question": URL, "choices": ["opt A", ...],
//                             "style"?: "mastodon" (default) | "gotosocial"}
//        alice looks the Question up (signed GET), then sends her vote to
//        its author's inbox: "mastodon" = one Create per choice, each with a
//        Note {name: choice, no content, inReplyTo: Question, attributedTo:
//        alice, to: author}; "gotosocial" = ONE Create whose object is the
//        array of those Notes (a single object when there is one choice).
//        The Notes are served at /users/alice/votes/<uuid>.  Choices are
//        sent as given (unknownChoices lists those that match no option).
//        200 {"ok": true, "activityIds", "noteIds", "status": [final HTTP
//        status per Create], "deliveries": [{activityId, attempts: [{inbox,
//        scheme, status}]}], "author", "inbox", "options", "multiple",
//        "closed", "endTime", "unknownChoices"}; 502 on a refused delivery
//        with "status": <that status>, "responseBody", "reason", "statuses",
//        "sentActivityIds" (Creates accepted before it), "unsentActivityIds"
//        (the rest are not tried after a refusal).
//   POST /_control/question {"name": "Which day?", "options": ["A", "B"],
//                             "multiple"?: bool, "endTime"?: ISO instant
//                             (default: in 24 hours), "to": [actor URL|handle, ...]}
//        alice publishes a Question as Mastodon does (the text as `content`,
//        `oneOf`, or `anyOf` when multiple, of Notes named by the options with
//        `replies.totalItems` 0, `endTime`, `votersCount` 0; to Public, cc her
//        followers and the given actors), served at its id
//        (/users/alice/questions/<uuid>), and sends Create{Question} to each
//        given actor's inbox.  Votes that come back (Create{Note{name,
//        inReplyTo}}) are recorded in /_control/received like any activity;
//        the Question's totals are not recounted.
//        200 {"ok": true, "questionId", "activityId", "inboxes"}; 502 as for
//        a note when a delivery is refused.
//   POST /_control/event    {"name": "Picnic", "startTime": ISO instant,
//                             "to": [actor URL|handle, ...]}
//        alice publishes an Event (name, content, startTime; addressed like a
//        question), served at /users/alice/events/<uuid>, and sends
//        Create{Event} to each given actor's inbox.  A Join of it is accepted
//        at once (Accept{Join} embedded, queued like a Follow's Accept: see
//        "autoAccept" in its /_control/received entry); a Leave ends it.
//        200 {"ok": true, "eventId", "activityId"}.
//   GET  /_control/participants      {event id: [participant ids]}
//   POST /_control/join     {"object": URL, "to": URL|handle}  alice sends
//        Join{object} to the actor `to` (the event's or project's organiser),
//        whose Accept or Reject shows in /_control/received; /_control/leave
//        sends Leave{object} the same way.  200 {"ok": true, "activityId"}.
//   GET  /_control/lookup?url=URL
//        alice looks URL up with Fedify (signed GET, no cache) and answers
//        what Fedify PARSED: type, id, name, summary, content, url,
//        published, updated, attributedTo, inReplyTo, to, cc, startTime,
//        endTime, tags/tagNames, attachments, location(s); for a Question
//        also exclusiveOptions/inclusiveOptions [{name, totalItems}],
//        options, multiple, closed, voters/votersCount; plus "reserialized"
//        (Fedify's compact re-serialisation) and "raw" (the document).
//        502 {"ok": false, "stage": "lookup", ...} if Fedify gives nothing.
//   GET  /_control/signature-specs   {origin: spec} Fedify's double-knock
//                             remembered (the first knock it will use next)
//   POST /_control/reset     clears received / inbox-requests / outgoing logs;
//                            {"signatureSpecs": true} also forgets remembered
//                            first-knock specs, {"documentCache": true} the
//                            5-minute cache of ctx.documentLoader
// In /_control/received, "objectParsed" has the same shape as a lookup
// answer (without raw); an activity with several objects also gets
// "objectIds" and "objectsParsed".
// Sends from the control API bypass the queue (immediate) and only answer
// once the remote inbox answered; failures answer HTTP 502 with
// {"ok": false, "reason", "status", "responseBody", ...}.
// The automatic Accept for an incoming Follow goes through Fedify's
// in-process outbox queue: it is sent right away but not awaited by the
// Follow's POST, and is retried (5 attempts, 0.5-5 s backoff) on failure;
// see /_control/outgoing for its delivery.  acct: handles are resolved with
// WebFinger (sent over plain http for loopback hosts, see below).

// Fedify 2.x declares Node >= 22.  On Node 20 the only missing global it
// touches is `navigator` (see lookup.mjs).
if (typeof globalThis.navigator === "undefined") {
  globalThis.navigator = { userAgent: `Node.js/${process.versions.node}` };
}

import http from "node:http";
import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";

// ---------------------------------------------------------------------------
// Arguments.
function parseArgs(argv) {
  const out = { port: null, firstKnock: undefined, rsaBits: 2048 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(`missing value for ${a}`);
      return argv[++i];
    };
    if (a === "--port") out.port = next();
    else if (a.startsWith("--port=")) out.port = a.slice(7);
    else if (a === "--first-knock") out.firstKnock = next();
    else if (a.startsWith("--first-knock=")) out.firstKnock = a.slice(14);
    else if (a === "--rsa-bits") out.rsaBits = Number(next());
    else if (a.startsWith("--rsa-bits=")) out.rsaBits = Number(a.slice(11));
    else usage(`unknown argument ${a}`);
  }
  if (out.port == null || !/^\d+$/.test(out.port) || Number(out.port) > 65535) {
    usage("--port PORT is required");
  }
  out.port = Number(out.port);
  if (
    out.firstKnock != null &&
    !["rfc9421", "draft-cavage-http-signatures-12"].includes(out.firstKnock)
  ) usage("--first-knock must be rfc9421 or draft-cavage-http-signatures-12");
  if (![2048, 3072, 4096].includes(out.rsaBits)) usage("--rsa-bits must be 2048, 3072 or 4096");
  return out;
}
function usage(msg) {
  process.stderr.write(
    `${msg}\nusage: node server.mjs --port PORT ` +
      "[--first-knock rfc9421|draft-cavage-http-signatures-12] [--rsa-bits 2048|3072|4096]\n",
  );
  process.exit(2);
}
const args = parseArgs(process.argv.slice(2));

// ---------------------------------------------------------------------------
// Per-request scope: log records Fedify emits while handling one request (or
// one control command) are collected here, so inbox listeners can tell which
// verification path succeeded and failures can be explained in responses.
const scope = new AsyncLocalStorage();

const LEVELS = ["trace", "debug", "info", "warning", "error", "fatal"];
const stderrLevel = (process.env.FEDIFY_PEER_LOG ?? "warning").toLowerCase();
const stderrMin = stderrLevel === "off" ? Infinity : Math.max(0, LEVELS.indexOf(stderrLevel));

function renderValue(part) {
  if (part instanceof Error) return `${part.name}: ${part.message}`;
  if (typeof part === "string") return part;
  if (part instanceof URL) return part.href;
  try {
    return JSON.stringify(part);
  } catch {
    return String(part);
  }
}
function renderLog(record) {
  const parts = record.message.map((part, i) => (i % 2 === 0 ? part : renderValue(part)));
  return `${record.level}: ${record.category.join(".")}: ${parts.join("")}`;
}

const { configure } = await import("@logtape/logtape");
await configure({
  sinks: {
    scoped: (record) => scope.getStore()?.logs.push(record),
    stderr: (record) => {
      if (LEVELS.indexOf(record.level) >= stderrMin) {
        process.stderr.write(`[${new Date(record.timestamp).toISOString()}] ${renderLog(record)}\n`);
      }
    },
  },
  loggers: [
    { category: ["logtape", "meta"], sinks: [], lowestLevel: "error" },
    { category: ["fedify"], sinks: ["scoped", "stderr"], lowestLevel: "debug" },
  ],
});

const {
  createFederation,
  MemoryKvStore,
  InProcessMessageQueue,
  createExponentialBackoffPolicy,
  generateCryptoKeyPair,
  SendActivityError,
} = await import("@fedify/fedify");
const vocab = await import("@fedify/vocab");
const {
  Person, Endpoints, Note, Mention, Follow, Accept, Reject, Undo, Create,
  Update, Delete, Announce, Like, Activity, PUBLIC_COLLECTION, isActor, getTypeId,
  Question, Collection, Event, Join, Leave,
} = vocab;
const { Temporal } = await import("@js-temporal/polyfill");

// ---------------------------------------------------------------------------
// State.
const IDENTIFIER = "alice";
const received = []; // activities that reached a listener (after verification)
const inboxRequests = []; // every POST to an inbox, with Fedify's answer
const outgoing = []; // every HTTP request Fedify made
const followers = new Map(); // follower actor id -> {id, inbox, sharedInbox, followId}
const following = new Map(); // target actor id -> {target, followId, state, ...}
const localObjects = new Map(); // id -> vocab object alice published (Note, Follow, ...)
const participants = new Map(); // alice's event id -> Map(participant id -> Join id)
let seq = 0;

function shortType(obj) {
  const typeId = obj == null ? null : getTypeId(obj);
  if (typeId == null) return null;
  const h = typeId.href;
  return h.slice(Math.max(h.lastIndexOf("#"), h.lastIndexOf("/")) + 1);
}
const href = (u) => (u == null ? null : u.href ?? String(u));
const errorText = (e) => `${e?.name ?? "Error"}: ${e?.message ?? e}`;

// ---------------------------------------------------------------------------
// Fedify's parse of an object, as plain JSON, read only through Fedify's own
// accessors (never the document it was parsed from).  Used by
// /_control/lookup and for `objectParsed` in /_control/received.  Terms
// Fedify's vocabulary does not model (e.g. schema.org `address` on a Place,
// Mobilizon's mz:* terms) are absent here; see `raw` for those.
const str = (v) => (v == null ? null : v.toString());
const instant = (v) => (v == null ? null : v.toString());
const lang = (v) => v?.locale?.baseName ?? null; // LanguageString (from contentMap etc.)

function linkOrUrl(v) {
  if (v == null) return null;
  if (v instanceof URL) return v.href;
  if (v instanceof vocab.Link) {
    return {
      type: shortType(v),
      href: href(v.href),
      mediaType: v.mediaType ?? null,
      name: str(v.name),
      ...(v.rels?.length ? { rel: v.rels } : {}),
    };
  }
  return String(v);
}

// An embedded object or link: tag, attachment, location, ...
function describeEmbedded(o) {
  if (o == null) return null;
  if (o instanceof URL) return { id: o.href };
  if (o instanceof vocab.Link) return linkOrUrl(o); // Hashtag and Mention are Links
  if (o instanceof vocab.PropertyValue) return { type: "PropertyValue", name: str(o.name), value: str(o.value) };
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
    // Fedify's Place has no address property (schema.org's is not in its
    // vocabulary), so a PostalAddress never shows up here.
    for (const k of ["latitude", "longitude", "altitude", "accuracy", "radius", "units"]) add(k, o[k] ?? null);
  }
  if (o instanceof vocab.Emoji) add("icon", href(o.iconId));
  return out;
}

async function collectAll(iterable) {
  const out = [];
  for await (const item of iterable) out.push(item);
  return out;
}

// loaders: { documentLoader, contextLoader } used for anything that is only a
// URI (Fedify fetches it); embedded values are read without network access.
async function describeObject(obj, loaders) {
  const errors = {};
  const guard = async (field, fn, fallback = null) => {
    try {
      return await fn();
    } catch (error) {
      errors[field] = errorText(error);
      return fallback;
    }
  };
  const out = {
    type: shortType(obj),
    typeUri: href(getTypeId(obj)),
    id: href(obj.id),
    name: str(obj.name),
    summary: str(obj.summary),
    content: str(obj.content),
    contentLanguage: lang(obj.content),
    // Every version Fedify read (content and contentMap's), each with its language
    // (null: the plain value), for name and summary too.
    contents: (obj.contents ?? []).map((v) => ({ value: str(v), language: lang(v) })),
    names: (obj.names ?? []).map((v) => ({ value: str(v), language: lang(v) })),
    summaries: (obj.summaries ?? []).map((v) => ({ value: str(v), language: lang(v) })),
    mediaType: obj.mediaType ?? null,
    url: linkOrUrl(obj.url),
    urls: (obj.urls ?? []).map(linkOrUrl),
    published: instant(obj.published),
    updated: instant(obj.updated),
    attributedTo: href(obj.attributionId),
    attributedToAll: (obj.attributionIds ?? []).map(href),
    inReplyTo: href(obj.replyTargetId),
    to: (obj.toIds ?? []).map(href),
    cc: (obj.ccIds ?? []).map(href),
    sensitive: obj.sensitive ?? null,
    startTime: instant(obj.startTime),
    endTime: instant(obj.endTime),
  };
  const tags = await guard("tags", () => collectAll(obj.getTags(loaders)), []);
  out.tags = tags.map(describeEmbedded);
  out.tagNames = out.tags.map((t) => t?.name).filter((n) => n != null);
  const atts = await guard("attachments", () => collectAll(obj.getAttachments(loaders)), []);
  out.attachments = atts.map(describeEmbedded);
  const locs = await guard("location", () => collectAll(obj.getLocations(loaders)), []);
  out.locations = locs.map(describeEmbedded);
  out.location = out.locations[0] ?? null;
  if (obj instanceof vocab.Question) {
    const option = async (o) => {
      const d = describeEmbedded(o);
      if (o instanceof vocab.Object) {
        const replies = await guard(`replies of option ${str(o.name)}`, () => o.getReplies(loaders));
        d.totalItems = replies?.totalItems ?? null;
      }
      return d;
    };
    const excl = await guard("exclusiveOptions", () => collectAll(obj.getExclusiveOptions(loaders)), []);
    const incl = await guard("inclusiveOptions", () => collectAll(obj.getInclusiveOptions(loaders)), []);
    out.exclusiveOptions = await Promise.all(excl.map(option)); // oneOf
    out.inclusiveOptions = await Promise.all(incl.map(option)); // anyOf
    out.multiple = incl.length > 0 && excl.length === 0;
    out.options = [...out.exclusiveOptions, ...out.inclusiveOptions].map((o) => o?.name ?? null);
    // closed: an instant (ISO string), a boolean, or null when absent.
    const closed = obj.closed;
    out.closed = closed == null ? null : typeof closed === "boolean" ? closed : closed.toString();
    out.voters = obj.voters ?? null; // toot:votersCount
    out.votersCount = out.voters;
  }
  out.reserialized = await guard("reserialized", () =>
    obj.toJsonLd({ format: "compact", contextLoader: loaders.contextLoader }));
  if (Object.keys(errors).length > 0) out.fieldErrors = errors;
  return out;
}

const withTimeout = (promise, ms, what) =>
  Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} timed out after ${ms / 1000}s`)), ms)),
  ]);

// ---------------------------------------------------------------------------
// Signature metadata from a request's headers / body (descriptive only; the
// verification itself is Fedify's).
function describeHttpSignature(headers) {
  const sigInput = headers.get("signature-input");
  const sig = headers.get("signature");
  const authz = headers.get("authorization");
  if (sigInput != null) {
    const keyId = /keyid="([^"]*)"/i.exec(sigInput)?.[1] ?? null;
    const alg = /;alg="([^"]*)"/i.exec(sigInput)?.[1] ?? null;
    const components = /=\(([^)]*)\)/.exec(sigInput)?.[1] ?? null;
    return { scheme: "rfc9421", keyId, alg, components };
  }
  const cavage = sig ?? (authz?.startsWith("Signature ") ? authz.slice(10) : null);
  if (cavage != null && /keyId="/i.test(cavage)) {
    return {
      scheme: "draft-cavage-http-signatures-12",
      keyId: /keyId="([^"]*)"/i.exec(cavage)?.[1] ?? null,
      alg: /algorithm="([^"]*)"/i.exec(cavage)?.[1] ?? null,
      components: /headers="([^"]*)"/i.exec(cavage)?.[1] ?? null,
      viaAuthorizationHeader: sig == null,
    };
  }
  return null;
}
function describeBodySignatures(json) {
  if (json == null || typeof json !== "object") return {};
  const out = {};
  if (json.signature != null && typeof json.signature === "object") {
    out.ldSignature = { type: json.signature.type ?? null, creator: json.signature.creator ?? null };
  }
  const proofs = json.proof == null ? [] : Array.isArray(json.proof) ? json.proof : [json.proof];
  if (proofs.length > 0) {
    out.proofs = proofs.map((p) => ({
      type: p?.type ?? null,
      cryptosuite: p?.cryptosuite ?? null,
      verificationMethod: p?.verificationMethod ?? null,
    }));
  }
  return out;
}
// Which authentication path Fedify took, from its debug log (it checks
// Linked Data Signatures first, then Object Integrity Proofs, and only if
// neither verifies, HTTP Signatures).
function verificationFromLogs(logs) {
  const msgs = logs.map((r) => r.message.filter((_, i) => i % 2 === 0).join(""));
  if (msgs.some((m) => m.startsWith("Linked Data Signatures are verified"))) return "ld-signature";
  if (msgs.some((m) => m.startsWith("Object Integrity Proofs are verified"))) return "object-integrity-proof";
  if (msgs.some((m) => m.startsWith("HTTP Signatures are verified"))) return "http-signature";
  return null;
}

// ---------------------------------------------------------------------------
// Outgoing HTTP recording: Fedify calls the global fetch at call time (doc
// loader, WebFinger client, and the delivery/double-knock code).
// Test-only accommodation: Fedify resolves acct: handles with WebFinger over
// https:// only, which loopback test servers do not speak; WebFinger requests
// to a loopback host are therefore sent over plain http (recorded as
// "downgradedFrom").  Nothing else is rewritten.
const LOOPBACK_WEBFINGER = /^https:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\/\.well-known\/webfinger(\?|$)/;
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  let url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  let downgradedFrom;
  if (LOOPBACK_WEBFINGER.test(url)) {
    downgradedFrom = url;
    url = "http://" + url.slice("https://".length);
    input = input instanceof Request ? new Request(url, input) : url;
  }
  const req = input instanceof Request ? input : null;
  const method = (init?.method ?? req?.method ?? "GET").toUpperCase();
  const headers = new Headers(init?.headers ?? req?.headers ?? {});
  const entry = {
    at: new Date().toISOString(),
    method,
    url,
    accept: headers.get("accept"),
    signature: describeHttpSignature(headers),
    ...(downgradedFrom ? { downgradedFrom } : {}),
  };
  if (method === "POST") {
    try {
      const text = req != null && init?.body == null
        ? await req.clone().text()
        : typeof init?.body === "string" ? init.body : null;
      if (text != null) {
        const json = JSON.parse(text);
        entry.activityId = json.id ?? null;
        entry.activityType = json.type ?? null;
        entry.contentType = headers.get("content-type");
        Object.assign(entry, describeBodySignatures(json));
      }
    } catch { /* not JSON; leave it */ }
  }
  outgoing.push(entry);
  try {
    const response = await realFetch(input, init);
    entry.status = response.status;
    return response;
  } catch (error) {
    entry.error = errorText(error);
    throw error;
  }
};

// ---------------------------------------------------------------------------
// Keys (generated once per process).
// Fedify's generateCryptoKeyPair("RSASSA-PKCS1-v1_5") makes a 4096-bit key;
// the peer uses 2048 bits by default (what most servers use), generated with
// exactly Fedify's parameters otherwise.  --rsa-bits 4096 uses Fedify's.
const rsaPair = args.rsaBits === 4096
  ? await generateCryptoKeyPair("RSASSA-PKCS1-v1_5")
  : await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: args.rsaBits,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  );
const ed25519Pair = await generateCryptoKeyPair("Ed25519");

// ---------------------------------------------------------------------------
// HTTP server first (so --port 0 can resolve the real port before the
// federation's origin is fixed).
let handler = null;
const server = http.createServer((req, res) => {
  if (handler == null) {
    res.writeHead(503, { "content-type": "text/plain" }).end("starting\n");
    return;
  }
  handler(req, res).catch((error) => {
    process.stderr.write(`unhandled error for ${req.method} ${req.url}: ${error?.stack ?? error}\n`);
    if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
    res.end("Internal server error\n");
  });
});
server.keepAliveTimeout = 1000;
await new Promise((resolve, reject) => {
  server.once("error", reject);
  server.listen(args.port, "127.0.0.1", resolve);
});
const PORT = server.address().port;
const ORIGIN = `http://127.0.0.1:${PORT}`;

// ---------------------------------------------------------------------------
// Federation.
// Enqueueing wakes the in-process queue immediately, so the poll interval
// only matters for its (leaky: one listener per poll) idle loop; keep it long.
const outboxQueue = new InProcessMessageQueue({ pollInterval: { seconds: 60 } });
const kv = new MemoryKvStore();
// Fedify's KV keys read/cleared by the control API.
const SPEC_PREFIX = ["_fedify", "httpMessageSignaturesSpec"]; // origin -> remembered first knock
const DOC_CACHE_PREFIX = ["_fedify", "remoteDocument"]; // ctx.documentLoader's 5-minute cache
async function kvClear(prefix) {
  const keys = [];
  for await (const e of kv.list(prefix)) keys.push(e.key);
  for (const key of keys) await kv.delete(key);
  return keys.length;
}
const federation = createFederation({
  kv,
  origin: ORIGIN,
  // Only outgoing deliveries are queued (used for the automatic Accept);
  // incoming activities are processed synchronously, so a listener has run
  // (and recorded it) before the sender gets its 202.
  queue: { outbox: outboxQueue },
  manuallyStartQueue: true,
  circuitBreaker: false,
  outboxRetryPolicy: createExponentialBackoffPolicy({
    initialDelay: { milliseconds: 500 },
    maxDelay: { seconds: 5 },
    maxAttempts: 5,
  }),
  allowPrivateAddress: true,
  // skipSignatureVerification deliberately NOT set (defaults to false).
  ...(args.firstKnock == null ? {} : { firstKnock: args.firstKnock }),
});

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== IDENTIFIER) return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: "Alice (Fedify peer)",
      summary: "Independent Fedify peer used by Chapterhouse interop tests.",
      url: ctx.getActorUri(identifier),
      inbox: ctx.getInboxUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      followers: ctx.getFollowersUri(identifier),
      manuallyApprovesFollowers: false,
      discoverable: true,
      publicKey: keys[0]?.cryptographicKey,
      assertionMethods: keys.map((k) => k.multikey),
    });
  })
  .mapHandle((_ctx, username) => (username === IDENTIFIER ? IDENTIFIER : null))
  .setKeyPairsDispatcher((_ctx, identifier) => {
    if (identifier !== IDENTIFIER) return [];
    return [rsaPair, ed25519Pair];
  });

federation
  .setFollowersDispatcher("/users/{identifier}/followers", (_ctx, identifier, _cursor) => {
    if (identifier !== IDENTIFIER) return null;
    return {
      items: [...followers.values()].map((f) => ({
        id: new URL(f.id),
        inboxId: f.inbox == null ? null : new URL(f.inbox),
        endpoints: f.sharedInbox == null ? null : { sharedInbox: new URL(f.sharedInbox) },
      })),
    };
  })
  .setCounter((_ctx, identifier) => (identifier === IDENTIFIER ? followers.size : null));

// Everything alice publishes is dereferenceable by its id.
function registerObjectRoute(cls, segment) {
  federation.setObjectDispatcher(cls, `/users/{identifier}/${segment}/{id}`, (ctx, values) => {
    if (values.identifier !== IDENTIFIER) return null;
    const obj = localObjects.get(ctx.getObjectUri(cls, values).href);
    return obj instanceof cls ? obj : null;
  });
}
registerObjectRoute(Note, "notes");
registerObjectRoute(Create, "creates");
registerObjectRoute(Follow, "follows");
registerObjectRoute(Undo, "undos");
registerObjectRoute(Accept, "accepts");
registerObjectRoute(Question, "questions");
registerObjectRoute(Event, "events");
registerObjectRoute(Join, "joins");
registerObjectRoute(Leave, "leaves");

const aliceUri = () => federation.createContext(new URL(ORIGIN), undefined).getActorUri(IDENTIFIER);
function newLocal(ctx, cls, props) {
  const id = ctx.getObjectUri(cls, { identifier: IDENTIFIER, id: randomUUID() });
  const obj = new cls({ id, ...props });
  localObjects.set(id.href, obj);
  return obj;
}

// ---------------------------------------------------------------------------
// Inbox listeners.
async function record(ctx, activity, extra = {}) {
  const store = scope.getStore();
  const entry = {
    seq: ++seq,
    type: shortType(activity),
    id: href(activity.id),
    actor: href(activity.actorId),
    objectId: href(activity.objectId),
    objectType: null,
    object: null,
    receivedAt: new Date().toISOString(),
    recipient: ctx.recipient, // null => delivered to the shared inbox
    verifiedBy: null,
    ...extra,
  };
  try {
    entry.object = await activity.toJsonLd({ format: "compact", contextLoader: ctx.contextLoader });
  } catch (error) {
    entry.objectError = `toJsonLd: ${errorText(error)}`;
  }
  // Fedify's own view of the activity's object (dereferenced if it was only
  // a URI; cross-origin embedded objects are re-fetched by Fedify).
  // objectParsed = describeObject() (the same shape /_control/lookup gives,
  // read through Fedify's accessors; its `reserialized` member is Fedify's
  // compact re-serialisation of the parsed object).
  const loaders = { documentLoader: ctx.documentLoader, contextLoader: ctx.contextLoader };
  try {
    const obj = await withTimeout(activity.getObject(loaders), 10000, "getObject");
    if (obj != null) {
      entry.objectType = shortType(obj);
      if (entry.objectId == null) entry.objectId = href(obj.id);
      if (!isActor(obj)) entry.objectParsed = await withTimeout(describeObject(obj, loaders), 10000, "describe");
    }
  } catch (error) {
    entry.objectFetchError = errorText(error);
  }
  // An activity with several objects (e.g. a GoToSocial-style poll vote:
  // one Create whose object is an array of Notes).
  if ((activity.objectIds?.length ?? 0) > 1) {
    entry.objectIds = activity.objectIds.map(href);
    try {
      const objs = await withTimeout(collectAll(activity.getObjects(loaders)), 10000, "getObjects");
      entry.objectsParsed = await Promise.all(
        objs.map((o) => (isActor(o) ? { type: shortType(o), id: href(o.id) } : describeObject(o, loaders))),
      );
    } catch (error) {
      entry.objectsFetchError = errorText(error);
    }
  }
  if (entry.objectType == null) {
    const o = entry.object?.object;
    if (o != null && typeof o === "object" && typeof o.type === "string") entry.objectType = o.type;
  }
  if (store != null) {
    const method = verificationFromLogs(store.logs);
    entry.verifiedBy = {
      method, // "ld-signature" | "object-integrity-proof" | "http-signature"
      // When method is "http-signature" Fedify has also checked that the
      // key's owner is the activity's actor.
      keyOwner: method === "http-signature" ? entry.actor : null,
      httpSignature: store.httpSignature,
      ...store.bodySignatures,
    };
    entry.raw = store.json;
    store.recorded = true;
  }
  received.push(entry);
  return entry;
}

async function onFollow(ctx, follow) {
  // The Accept embeds the Follow Mastodon-style: {id, type, actor, object}
  // as URIs.  (Embedding `follow` itself would also serialise whatever
  // Fedify has fetched and cached on it, e.g. the whole follower Person.)
  const followForAccept = new Follow({ id: follow.id, actor: follow.actorId, object: follow.objectId });
  const entry = await record(ctx, follow);
  if (follow.objectId?.href !== ctx.getActorUri(IDENTIFIER).href) return;
  if (follow.id == null || follow.actorId == null) {
    entry.autoAccept = { ok: false, reason: "Follow without id or actor" };
    return;
  }
  const follower = await follow.getActor({ documentLoader: ctx.documentLoader, contextLoader: ctx.contextLoader });
  if (follower == null || follower.id == null || follower.inboxId == null) {
    entry.autoAccept = { ok: false, reason: "could not dereference the follower (or it has no inbox)" };
    return;
  }
  followers.set(follower.id.href, {
    id: follower.id.href,
    inbox: href(follower.inboxId),
    sharedInbox: href(follower.endpoints?.sharedInbox),
    followId: follow.id.href,
  });
  const accept = newLocal(ctx, Accept, {
    actor: ctx.getActorUri(IDENTIFIER),
    object: followForAccept,
    to: follower.id,
  });
  // Queued (in-process): delivered right after this request, with retries.
  await ctx.sendActivity({ identifier: IDENTIFIER }, follower, accept);
  entry.autoAccept = { ok: true, acceptId: accept.id.href, queued: true, inbox: href(follower.inboxId) };
}

async function onAcceptOrReject(ctx, activity, accepted) {
  const entry = await record(ctx, activity);
  const objectId = href(activity.objectId);
  let match = [...following.values()].find((f) => f.followId === objectId);
  let matchedBy = match ? "followId" : null;
  if (!match) {
    match = following.get(href(activity.actorId));
    if (match) matchedBy = "actor";
  }
  if (match && match.target === href(activity.actorId)) {
    match.state = accepted ? "accepted" : "rejected";
    match.answeredBy = entry.id;
  } else if (match) {
    matchedBy = null; // someone else answered for the target: ignore
  }
  entry.matchedFollow = matchedBy;
}

async function onUndo(ctx, undo) {
  const entry = await record(ctx, undo);
  const actor = href(undo.actorId);
  const f = followers.get(actor);
  if (f == null) return;
  const objectId = href(undo.objectId);
  if (objectId === f.followId || entry.objectType === "Follow") {
    followers.delete(actor);
    entry.removedFollower = actor;
  }
}

// A Join of one of alice's events is accepted at once (Mobilizon's joinMode "free"):
// Accept with the Join embedded, to the participant; a Leave ends the participation.
async function onJoin(ctx, join) {
  const entry = await record(ctx, join);
  const people = participants.get(href(join.objectId));
  if (people == null || join.id == null || join.actorId == null) return;
  const joiner = await join.getActor({ documentLoader: ctx.documentLoader, contextLoader: ctx.contextLoader });
  if (joiner == null || joiner.id == null || joiner.inboxId == null) {
    entry.autoAccept = { ok: false, reason: "could not dereference the participant (or it has no inbox)" };
    return;
  }
  people.set(joiner.id.href, join.id.href);
  const accept = newLocal(ctx, Accept, {
    actor: ctx.getActorUri(IDENTIFIER),
    object: new Join({ id: join.id, actor: join.actorId, object: join.objectId }),
    to: joiner.id,
  });
  await ctx.sendActivity({ identifier: IDENTIFIER }, joiner, accept);
  entry.autoAccept = { ok: true, acceptId: accept.id.href, queued: true, inbox: href(joiner.inboxId) };
}

async function onLeave(ctx, leave) {
  const entry = await record(ctx, leave);
  const people = participants.get(href(leave.objectId));
  if (people != null && people.delete(href(leave.actorId))) entry.removedParticipant = href(leave.actorId);
}

async function onDelete(ctx, del) {
  const entry = await record(ctx, del);
  const actor = href(del.actorId);
  if (href(del.objectId) === actor && followers.delete(actor)) entry.removedFollower = actor;
}

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .on(Follow, onFollow)
  .on(Accept, (ctx, a) => onAcceptOrReject(ctx, a, true))
  .on(Reject, (ctx, a) => onAcceptOrReject(ctx, a, false))
  .on(Undo, onUndo)
  .on(Join, onJoin)
  .on(Leave, onLeave)
  .on(Create, (ctx, a) => record(ctx, a))
  .on(Update, (ctx, a) => record(ctx, a))
  .on(Delete, onDelete)
  .on(Announce, (ctx, a) => record(ctx, a))
  .on(Like, (ctx, a) => record(ctx, a))
  // Anything else (Add, Remove, Block, Move, Flag, ...) is recorded too.
  .on(Activity, (ctx, a) => record(ctx, a))
  // Fetches made while handling the shared inbox are signed as alice too
  // (personal-inbox fetches are signed with the recipient's key by Fedify).
  .setSharedKeyDispatcher((_ctx) => ({ identifier: IDENTIFIER }))
  .onError((_ctx, error) => {
    const store = scope.getStore();
    if (store != null) store.listenerError = errorText(error);
  });

federation.startQueue(undefined).catch((error) => {
  process.stderr.write(`queue stopped: ${error?.stack ?? error}\n`);
});

// ---------------------------------------------------------------------------
// Control API.
function json(status, body) {
  return new Response(JSON.stringify(body, null, 2) + "\n", {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}
// Fedify's warnings/errors, plus its debug-level explanations from the
// signature code (e.g. "Failed to verify; no Digest header found.", or the
// double-knock "retrying with spec ..."), which say *why* a 401 happened.
const problems = (logs) =>
  logs
    .filter((r) =>
      LEVELS.indexOf(r.level) >= LEVELS.indexOf("warning") ||
      (r.category[1] === "sig" && /fail|retry/i.test(r.message[0] ?? ""))
    )
    .map((r) => {
      const line = renderLog(r);
      return line.length > 2000 ? line.slice(0, 2000) + "… (truncated)" : line;
    });

async function lookupActor(ctx, target, documentLoader) {
  if (typeof target !== "string" || target === "") {
    return { error: json(400, { ok: false, reason: "missing target" }) };
  }
  let actor;
  try {
    actor = await ctx.lookupObject(target, {
      signal: AbortSignal.timeout(15000),
      ...(documentLoader ? { documentLoader } : {}),
    });
  } catch (error) {
    return { error: json(502, { ok: false, stage: "lookup", reason: errorText(error), log: problems(scope.getStore().logs) }) };
  }
  if (actor == null || !isActor(actor)) {
    return {
      error: json(502, {
        ok: false,
        stage: "lookup",
        reason: actor == null ? `Fedify could not look up ${target}` : `${target} is a ${shortType(actor)}, not an actor`,
        log: problems(scope.getStore().logs),
      }),
    };
  }
  if (actor.id == null || actor.inboxId == null) {
    return { error: json(502, { ok: false, stage: "lookup", reason: "actor has no id or no inbox" }) };
  }
  return { actor };
}

async function send(ctx, recipient, activity, body, extra) {
  try {
    await ctx.sendActivity({ identifier: IDENTIFIER }, recipient, activity, {
      immediate: true,
      preferSharedInbox: Boolean(body.preferSharedInbox),
    });
    return null;
  } catch (error) {
    const out = { ok: false, stage: "send", reason: errorText(error), ...extra };
    if (error instanceof SendActivityError) {
      out.status = error.statusCode;
      out.inbox = href(error.inbox);
      out.responseBody = error.responseBody ?? null;
    }
    out.log = problems(scope.getStore().logs);
    return json(502, out);
  }
}

// Alice's document loader (GETs signed with her RSA key, double-knocking like
// deliveries, and not cached, unlike ctx.documentLoader which Fedify caches
// for 5 minutes), wrapped to keep the documents it loaded.
async function aliceLoaders(ctx) {
  const base = await ctx.getDocumentLoader({ identifier: IDENTIFIER });
  const documents = [];
  const documentLoader = async (url, options) => {
    const doc = await base(url, options);
    documents.push(doc);
    return doc;
  };
  return { documentLoader, contextLoader: ctx.contextLoader, documents };
}

// Looks `target` up as alice.  Returns {obj, raw, loaders} or {error: Response}.
async function lookupAsAlice(ctx, target) {
  if (typeof target !== "string" || target === "") {
    return { error: json(400, { ok: false, reason: "missing url" }) };
  }
  const loaders = await aliceLoaders(ctx);
  let obj;
  try {
    obj = await ctx.lookupObject(target, {
      documentLoader: loaders.documentLoader,
      contextLoader: loaders.contextLoader,
      signal: AbortSignal.timeout(15000),
    });
  } catch (error) {
    return { error: json(502, { ok: false, stage: "lookup", url: target, reason: errorText(error), log: problems(scope.getStore().logs) }) };
  }
  if (obj == null) {
    return {
      error: json(502, {
        ok: false,
        stage: "lookup",
        url: target,
        reason: `Fedify could not look up ${target}`,
        raw: loaders.documents.at(-1)?.document ?? null,
        log: problems(scope.getStore().logs),
      }),
    };
  }
  const doc = loaders.documents.find((d) => d.documentUrl === obj.id?.href) ?? loaders.documents.at(-1);
  return { obj, raw: doc?.document ?? null, loaders };
}

// Outgoing POSTs of one activity since outgoing[from] (one per double-knock).
function deliveryAttempts(from, activityId) {
  return outgoing
    .slice(from)
    .filter((r) => r.method === "POST" && r.activityId === activityId)
    .map((r) => ({ inbox: r.url, scheme: r.signature?.scheme ?? null, status: r.status ?? null, ...(r.error ? { error: r.error } : {}) }));
}

async function vote(ctx, body) {
  const style = body.style ?? "mastodon";
  if (!["mastodon", "gotosocial"].includes(style)) {
    return json(400, { ok: false, reason: 'style must be "mastodon" or "gotosocial"' });
  }
  const choices = body.choices;
  if (!Array.isArray(choices) || choices.length === 0 || !choices.every((c) => typeof c === "string")) {
    return json(400, { ok: false, reason: "choices must be a non-empty array of option names" });
  }
  const found = await lookupAsAlice(ctx, body.question);
  if (found.error) return found.error;
  const { obj: question, loaders } = found;
  if (!(question instanceof vocab.Question)) {
    return json(502, { ok: false, stage: "lookup", reason: `${body.question} is a ${shortType(question)}, not a Question` });
  }
  const parsed = await describeObject(question, loaders);
  const authorId = question.attributionId ?? question.actorId;
  if (authorId == null) return json(502, { ok: false, stage: "lookup", reason: "the Question has no attributedTo (nor actor)" });
  const { actor: author, error } = await lookupActor(ctx, authorId.href, loaders.documentLoader);
  if (error) return error;

  // Sent as given, even if not an option / the poll is closed: the receiving
  // server is the one to judge (unknownChoices just reports the mismatch).
  const alice = ctx.getActorUri(IDENTIFIER);
  const notes = choices.map((choice) => {
    const note = new Note({
      id: new URL(`/users/${IDENTIFIER}/votes/${randomUUID()}`, ORIGIN),
      name: choice,
      replyTarget: question.id,
      attribution: alice,
      to: author.id,
    });
    localObjects.set(note.id.href, note);
    return note;
  });
  // GoToSocial: ONE Create whose object is the array of Notes (Fedify's
  // Create takes several objects; with one choice it serialises a single
  // object, not a one-element array, as GoToSocial's serialiser does too).
  const creates = style === "mastodon"
    ? notes.map((note) => newLocal(ctx, Create, { actor: alice, object: note, to: author.id }))
    : [newLocal(ctx, Create, { actor: alice, objects: notes, to: author.id, published: Temporal.Now.instant() })];

  const common = {
    style,
    question: href(question.id),
    author: href(author.id),
    inbox: href(author.inboxId),
    options: parsed.options,
    multiple: parsed.multiple,
    closed: parsed.closed,
    endTime: parsed.endTime,
    unknownChoices: choices.filter((c) => !parsed.options.includes(c)),
    activityIds: creates.map((c) => c.id.href),
    noteIds: notes.map((n) => n.id.href),
  };
  const status = [];
  const deliveries = [];
  for (const create of creates) {
    const from = outgoing.length;
    const failed = await send(ctx, author, create, { preferSharedInbox: body.preferSharedInbox }, {
      ...common,
      failedActivityId: create.id.href,
      sentActivityIds: deliveries.map((d) => d.activityId),
    });
    const attempts = deliveryAttempts(from, create.id.href);
    if (failed) {
      // send() built {ok:false, status, responseBody, reason, ...}; add the
      // attempts of this activity and the earlier (successful) ones.
      const out = await failed.json();
      out.statuses = [...status, out.status ?? null];
      out.unsentActivityIds = creates.slice(creates.indexOf(create) + 1).map((c) => c.id.href);
      out.deliveries = [...deliveries, { activityId: create.id.href, attempts }];
      return json(502, out);
    }
    status.push(attempts.at(-1)?.status ?? null);
    deliveries.push({ activityId: create.id.href, attempts });
  }
  return json(200, { ok: true, ...common, status, deliveries });
}

const escapeHtml = (text) =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

async function question(ctx, body) {
  const options = body.options;
  if (typeof body.name !== "string" || body.name === "") {
    return json(400, { ok: false, reason: "missing name (the question's text)" });
  }
  if (!Array.isArray(options) || options.length < 2 || !options.every((o) => typeof o === "string")) {
    return json(400, { ok: false, reason: "options must be an array of two or more strings" });
  }
  const targets = Array.isArray(body.to) ? body.to : [];
  if (targets.length === 0) return json(400, { ok: false, reason: "to must name at least one actor" });
  const recipients = [];
  for (const target of targets) {
    const { actor, error } = await lookupActor(ctx, target);
    if (error) return error;
    recipients.push(actor);
  }
  const alice = ctx.getActorUri(IDENTIFIER);
  const published = Temporal.Now.instant();
  let endTime;
  try {
    endTime = body.endTime ? Temporal.Instant.from(body.endTime) : published.add({ hours: 24 });
  } catch (error) {
    return json(400, { ok: false, reason: `endTime: ${error.message}` });
  }
  const notes = options.map((name) => new Note({ name, replies: new Collection({ totalItems: 0 }) }));
  const addressing = { to: PUBLIC_COLLECTION, ccs: [ctx.getFollowersUri(IDENTIFIER), ...recipients.map((a) => a.id)] };
  const poll = newLocal(ctx, Question, {
    attribution: alice,
    content: `<p>${escapeHtml(body.name)}</p>`,
    mediaType: "text/html",
    published,
    endTime,
    voters: 0,
    ...(body.multiple ? { inclusiveOptions: notes } : { exclusiveOptions: notes }),
    ...addressing,
  });
  const create = newLocal(ctx, Create, { actor: alice, object: poll, published, ...addressing });
  const failed = await send(ctx, recipients, create, body, { questionId: poll.id.href, activityId: create.id.href });
  if (failed) return failed;
  return json(200, {
    ok: true,
    questionId: poll.id.href,
    activityId: create.id.href,
    inboxes: recipients.map((a) => href(a.inboxId)),
  });
}

async function event(ctx, body) {
  if (typeof body.name !== "string" || body.name === "") return json(400, { ok: false, reason: "missing name" });
  const targets = Array.isArray(body.to) ? body.to : [];
  if (targets.length === 0) return json(400, { ok: false, reason: "to must name at least one actor" });
  let startTime;
  try {
    startTime = Temporal.Instant.from(body.startTime);
  } catch (error) {
    return json(400, { ok: false, reason: `startTime: ${error.message}` });
  }
  const recipients = [];
  for (const target of targets) {
    const { actor, error } = await lookupActor(ctx, target);
    if (error) return error;
    recipients.push(actor);
  }
  const alice = ctx.getActorUri(IDENTIFIER);
  const published = Temporal.Now.instant();
  const addressing = { to: PUBLIC_COLLECTION, ccs: [ctx.getFollowersUri(IDENTIFIER), ...recipients.map((a) => a.id)] };
  const happening = newLocal(ctx, Event, {
    attribution: alice,
    name: body.name,
    content: `<p>${escapeHtml(body.name)}</p>`,
    mediaType: "text/html",
    published,
    startTime,
    ...addressing,
  });
  participants.set(happening.id.href, new Map());
  const create = newLocal(ctx, Create, { actor: alice, object: happening, published, ...addressing });
  const failed = await send(ctx, recipients, create, body, { eventId: happening.id.href, activityId: create.id.href });
  if (failed) return failed;
  return json(200, { ok: true, eventId: happening.id.href, activityId: create.id.href });
}

async function readJsonBody(request) {
  const text = await request.text();
  if (text.trim() === "") return {};
  return JSON.parse(text);
}

async function control(request, path) {
  const ctx = federation.createContext(new URL(ORIGIN), undefined);
  const method = request.method;
  if (method === "GET") {
    switch (path) {
      case "/_control/received": return json(200, received);
      case "/_control/inbox-requests": return json(200, inboxRequests);
      case "/_control/outgoing": return json(200, outgoing);
      case "/_control/followers": return json(200, [...followers.keys()]);
      case "/_control/following": return json(200, [...following.values()]);
      case "/_control/participants": {
        const out = {};
        for (const [event, people] of participants) out[event] = [...people.keys()];
        return json(200, out);
      }
      case "/_control/signature-specs": {
        // What Fedify's double-knock remembered per origin (no expiry): the
        // spec it will try first next time.  After a first knock fails with
        // any status >= 400 (404, 403 "poll closed", ...), Fedify retries
        // with the other spec and remembers that one unless the retry got
        // 400/401; a success on the first knock remembers the first spec.
        const out = {};
        for await (const e of kv.list(SPEC_PREFIX)) out[e.key[SPEC_PREFIX.length]] = e.value;
        return json(200, out);
      }
      case "/_control/lookup": {
        const target = new URL(request.url).searchParams.get("url");
        const { obj, raw, loaders, error } = await lookupAsAlice(ctx, target);
        if (error) return error;
        const parsed = isActor(obj)
          ? { type: shortType(obj), id: href(obj.id), isActor: true, name: str(obj.name), inbox: href(obj.inboxId) }
          : await withTimeout(describeObject(obj, loaders), 15000, "describe");
        return json(200, { ok: true, lookedUp: target, ...parsed, raw });
      }
      case "/_control/info": {
        const keys = await ctx.getActorKeyPairs(IDENTIFIER);
        return json(200, {
          origin: ORIGIN,
          actor: ctx.getActorUri(IDENTIFIER).href,
          handle: `acct:${IDENTIFIER}@127.0.0.1:${PORT}`,
          inbox: ctx.getInboxUri(IDENTIFIER).href,
          sharedInbox: ctx.getInboxUri().href,
          followers: ctx.getFollowersUri(IDENTIFIER).href,
          keys: keys.map((k) => ({ id: k.keyId.href, algorithm: k.privateKey.algorithm.name })),
        });
      }
    }
    return json(404, { ok: false, reason: `no such control endpoint: GET ${path}` });
  }
  if (method !== "POST") return json(405, { ok: false, reason: "method not allowed" });
  let body;
  try {
    body = await readJsonBody(request);
  } catch (error) {
    return json(400, { ok: false, reason: `invalid JSON body: ${error.message}` });
  }
  const alice = ctx.getActorUri(IDENTIFIER);
  switch (path) {
    case "/_control/reset": {
      received.length = 0;
      inboxRequests.length = 0;
      outgoing.length = 0;
      const cleared = {};
      if (body.signatureSpecs) cleared.signatureSpecs = await kvClear(SPEC_PREFIX);
      if (body.documentCache) cleared.documentCache = await kvClear(DOC_CACHE_PREFIX);
      return json(200, { ok: true, cleared });
    }
    case "/_control/follow": {
      const { actor, error } = await lookupActor(ctx, body.target);
      if (error) return error;
      const follow = newLocal(ctx, Follow, { actor: alice, object: actor.id, to: actor.id });
      const failed = await send(ctx, actor, follow, body, { followId: follow.id.href });
      if (failed) return failed;
      following.set(actor.id.href, {
        target: actor.id.href,
        inbox: href(actor.inboxId),
        sharedInbox: href(actor.endpoints?.sharedInbox),
        followId: follow.id.href,
        state: "pending",
        answeredBy: null,
      });
      return json(200, { ok: true, followId: follow.id.href, target: actor.id.href, inbox: href(actor.inboxId) });
    }
    case "/_control/unfollow": {
      const { actor, error } = await lookupActor(ctx, body.target);
      if (error) return error;
      const f = following.get(actor.id.href);
      if (f == null) return json(409, { ok: false, reason: `alice does not follow ${actor.id.href}` });
      const follow = localObjects.get(f.followId);
      const undo = newLocal(ctx, Undo, { actor: alice, object: follow, to: actor.id });
      const failed = await send(ctx, actor, undo, body, { undoId: undo.id.href, followId: f.followId });
      if (failed) return failed;
      following.delete(actor.id.href);
      return json(200, { ok: true, undoId: undo.id.href, followId: f.followId });
    }
    case "/_control/vote": return await vote(ctx, body);
    case "/_control/question": return await question(ctx, body);
    case "/_control/event": return await event(ctx, body);
    case "/_control/join":
    case "/_control/leave": {
      // alice takes part in (or leaves) someone else's event or project: Join{object}
      // (Leave{object}) to the actor `to`, its organiser, who answers the Join.
      if (typeof body.object !== "string") return json(400, { ok: false, reason: "missing object" });
      const { actor, error } = await lookupActor(ctx, body.to);
      if (error) return error;
      const cls = path === "/_control/join" ? Join : Leave;
      const activity = newLocal(ctx, cls, { actor: alice, object: new URL(body.object), to: actor.id });
      const failed = await send(ctx, actor, activity, body, { activityId: activity.id.href });
      if (failed) return failed;
      return json(200, { ok: true, activityId: activity.id.href, inbox: href(actor.inboxId) });
    }
    case "/_control/note": {
      if (typeof body.content !== "string") return json(400, { ok: false, reason: "missing content" });
      const { actor, error } = await lookupActor(ctx, body.to);
      if (error) return error;
      const isPublic = body.public !== false;
      const published = Temporal.Now.instant();
      const addressing = { to: actor.id, ...(isPublic ? { cc: PUBLIC_COLLECTION } : {}) };
      const tags = body.mention
        ? [new Mention({ href: actor.id, name: `@${actor.preferredUsername ?? "user"}@${actor.id.host}` })]
        : [];
      const note = newLocal(ctx, Note, {
        attribution: alice,
        content: body.content,
        mediaType: "text/html",
        published,
        ...(body.inReplyTo ? { replyTarget: new URL(body.inReplyTo) } : {}),
        tags,
        ...addressing,
      });
      const create = newLocal(ctx, Create, { actor: alice, object: note, published, ...addressing });
      const failed = await send(ctx, actor, create, body, { noteId: note.id.href, activityId: create.id.href });
      if (failed) return failed;
      return json(200, { ok: true, noteId: note.id.href, activityId: create.id.href });
    }
  }
  return json(404, { ok: false, reason: `no such control endpoint: POST ${path}` });
}

// ---------------------------------------------------------------------------
// Node http <-> fetch Request/Response glue.
const INBOX_PATHS = new Set([`/users/${IDENTIFIER}/inbox`, "/inbox"]);
const VOTE_PATH = new RegExp(`^/users/${IDENTIFIER}/votes/[0-9a-f-]+$`);

handler = async (req, res) => {
  const url = new URL(req.url ?? "/", ORIGIN); // origin is fixed, Host is ignored
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const bodyBuf = Buffer.concat(chunks);
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  const request = new Request(url, {
    method: req.method,
    headers,
    body: hasBody ? bodyBuf : undefined,
  });

  const store = { logs: [], recorded: false };
  let response;
  if (VOTE_PATH.test(url.pathname) && (req.method === "GET" || req.method === "HEAD")) {
    // Alice's poll votes (Notes) have their own path; Fedify allows one
    // object dispatcher per class and Note's is /users/{identifier}/notes/{id}.
    const note = localObjects.get(`${ORIGIN}${url.pathname}`);
    response = note == null
      ? new Response("Not Found\n", { status: 404, headers: { "content-type": "text/plain" } })
      : new Response(JSON.stringify(await note.toJsonLd({ contextLoader: federation.createContext(new URL(ORIGIN), undefined).contextLoader })), {
        status: 200,
        headers: { "content-type": "application/activity+json", vary: "Accept" },
      });
  } else if (url.pathname.startsWith("/_control/")) {
    response = await scope.run(store, () => control(request, url.pathname));
  } else {
    let inboxEntry = null;
    if (req.method === "POST" && INBOX_PATHS.has(url.pathname)) {
      store.httpSignature = describeHttpSignature(headers);
      try {
        store.json = JSON.parse(bodyBuf.toString("utf8"));
      } catch {
        store.json = null;
      }
      store.bodySignatures = describeBodySignatures(store.json);
      inboxEntry = {
        at: new Date().toISOString(),
        path: url.pathname,
        contentType: headers.get("content-type"),
        activityId: store.json?.id ?? null,
        activityType: store.json?.type ?? null,
        actor: typeof store.json?.actor === "string" ? store.json.actor : store.json?.actor?.id ?? null,
        httpSignature: store.httpSignature,
        ...store.bodySignatures,
      };
    }
    response = await scope.run(store, () =>
      federation.fetch(request, {
        contextData: undefined,
        onNotFound: () => new Response("Not Found\n", { status: 404, headers: { "content-type": "text/plain" } }),
        onNotAcceptable: () =>
          new Response("Not Acceptable\n", { status: 406, headers: { "content-type": "text/plain", vary: "Accept" } }),
      })
    );
    if (inboxEntry != null) {
      inboxEntry.status = response.status;
      inboxEntry.responseBody = await response.clone().text();
      inboxEntry.verifiedBy = verificationFromLogs(store.logs);
      inboxEntry.recorded = store.recorded;
      if (store.listenerError) inboxEntry.listenerError = store.listenerError;
      inboxEntry.log = problems(store.logs);
      inboxRequests.push(inboxEntry);
    }
  }

  const outHeaders = {};
  response.headers.forEach((value, key) => {
    outHeaders[key] = key in outHeaders ? `${outHeaders[key]}, ${value}` : value;
  });
  const outBody = req.method === "HEAD" ? null : Buffer.from(await response.arrayBuffer());
  res.writeHead(response.status, outHeaders);
  res.end(outBody);
};

// ---------------------------------------------------------------------------
function shutdown(signal) {
  server.close();
  server.closeAllConnections?.();
  process.stderr.write(`fedify peer: ${signal}, exiting\n`);
  process.exit(0);
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));

process.stdout.write(`READY ${ORIGIN}\n`);

#!/usr/bin/env node
// A minimal Fedify inbox, the comparison case of bench/inbox_throughput.py.
//
// Usage: node bench/fedify_inbox.mjs PORT   (0 picks a free port)
//
// Prints ONE line "READY http://127.0.0.1:PORT" once listening; runs until SIGTERM.
// One local Group, "dublin" (/actors/dublin, inbox /actors/dublin/inbox: the same path as
// the node's, so the bench addresses the same requests to both).  Fedify verifies each
// POST's HTTP signature itself, fetching the sender's key from its actor document (cached
// in a MemoryKvStore after the first fetch), and its `on(Create)` listener keeps the
// activity in a Map, nothing more: no database, as in the earlier measurement this case
// stands for ("a minimal Fedify 2.3.6 inbox keeping only a Map").  Fedify answers 202.
// GET /_count answers how many distinct activities the listener kept.
//
// Fedify comes from tests/peers/fedify/node_modules (installed by
// `npm ci --prefix tests/peers/fedify`), the pinned copy the interop tests use.

import http from "node:http";
import { readFileSync } from "node:fs";

// Fedify 2.x declares Node >= 22; on Node 20 the only missing global it touches is
// `navigator` (see tests/peers/fedify/lookup.mjs).
if (typeof globalThis.navigator === "undefined") {
  globalThis.navigator = { userAgent: `Node.js/${process.versions.node}` };
}

// Bare specifiers resolve from this file's directory, and ESM ignores NODE_PATH, so the
// packages are loaded by file URL from the peer's node_modules: the entry named by each
// package's own "exports" (its ESM build), so @fedify/fedify's internal import of
// @fedify/vocab reaches the same module instance and `instanceof Create` holds.
const MODULES = new URL("../tests/peers/fedify/node_modules/", import.meta.url);
async function load(name) {
  const root = new URL(`${name}/`, MODULES);
  const manifest = JSON.parse(readFileSync(new URL("package.json", root), "utf8"));
  return import(new URL(manifest.exports["."].import, root).href);
}
const { createFederation, generateCryptoKeyPair, MemoryKvStore } = await load("@fedify/fedify");
const { Group, Create } = await load("@fedify/vocab");

const port = Number(process.argv[2]);
if (process.argv.length !== 3 || !Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write("usage: node bench/fedify_inbox.mjs PORT\n");
  process.exit(2);
}

const IDENTIFIER = "dublin";
const received = new Map(); // activity id -> Create, as the listener got it
// Fedify signs the key fetches it makes for a personal inbox with the recipient's key, and
// answers 500 without a key pairs dispatcher; the senders app ignores that signature.
const keyPair = await generateCryptoKeyPair("RSASSA-PKCS1-v1_5");

// Listen first, so that port 0 is resolved before the federation's origin is fixed.
let handler = null;
const server = http.createServer((req, res) => {
  handler(req, res).catch((error) => {
    process.stderr.write(`fedify inbox: ${req.method} ${req.url}: ${error?.stack ?? error}\n`);
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
});
await new Promise((resolve, reject) => {
  server.once("error", reject);
  server.listen(port, "127.0.0.1", 1024, resolve);
});
const ORIGIN = `http://127.0.0.1:${server.address().port}`;

const federation = createFederation({
  kv: new MemoryKvStore(),
  origin: ORIGIN,
  // The bench's senders serve their actors (and keys) from 127.0.0.1, which Fedify's
  // document loader refuses unless told otherwise (SSRF guard).
  allowPrivateAddress: true,
  // No queue: the listener runs before the 202, as the node stores before it answers.
  // skipSignatureVerification is not set: verifying is the work being measured.
});

federation
  .setActorDispatcher("/actors/{identifier}", async (ctx, identifier) => {
    if (identifier !== IDENTIFIER) return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Group({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: "IOPS Dublin",
      inbox: ctx.getInboxUri(identifier),
      publicKey: keys[0]?.cryptographicKey,
    });
  })
  .setKeyPairsDispatcher((_ctx, identifier) => (identifier === IDENTIFIER ? [keyPair] : []));

federation
  .setInboxListeners("/actors/{identifier}/inbox")
  .on(Create, (_ctx, create) => {
    received.set(create.id?.href, create);
  });

// Node http <-> fetch Request/Response, as a Node deployment of Fedify needs some glue.
handler = async (req, res) => {
  const url = new URL(req.url ?? "/", ORIGIN);
  if (req.method === "GET" && url.pathname === "/_count") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ count: received.size }));
    return;
  }
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  }
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  const response = await federation.fetch(
    new Request(url, { method: req.method, headers, body: hasBody ? Buffer.concat(chunks) : undefined }),
    { contextData: undefined },
  );
  const outHeaders = {};
  response.headers.forEach((value, key) => {
    outHeaders[key] = value;
  });
  const body = Buffer.from(await response.arrayBuffer());
  res.writeHead(response.status, outHeaders);
  res.end(body);
};

process.on("SIGTERM", () => {
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
});
process.stdout.write(`READY ${ORIGIN}\n`);

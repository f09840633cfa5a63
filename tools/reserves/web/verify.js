// Client-side check of a custody-por/1 inclusion proof (spec section 6), computed in the
// browser: SHA-256 and Ed25519 through WebCrypto, amounts as BigInt, strict JSON parsed here
// (JSON.parse would keep the last of two duplicate keys). No network access is used.
'use strict';

const PorVerify = (() => {
  const MAX_U128 = (1n << 128n) - 1n;
  const MAX_JSON_INT = 2 ** 53;

  class Reject extends Error {}
  const reject = (msg) => { throw new Reject(msg); };

  // ---- strict JSON -------------------------------------------------------------------------
  function parseStrict(text, what) {
    let i = 0;
    let depth = 0;
    const fail = (msg) => reject(`${what}: not strict JSON: ${msg} at byte ${i}`);
    const ws = () => { while (i < text.length && ' \t\n\r'.includes(text[i])) i++; };
    const value = () => {
      ws();
      const ch = text[i];
      if (ch === '{') return object();
      if (ch === '[') return array();
      if (ch === '"') return string();
      if (ch === 't' && text.startsWith('true', i)) { i += 4; return true; }
      if (ch === 'f' && text.startsWith('false', i)) { i += 5; return false; }
      if (ch === 'n' && text.startsWith('null', i)) { i += 4; return null; }
      if (ch === '-') fail('a negative number');
      if (ch >= '0' && ch <= '9') return number();
      return fail('unexpected character');
    };
    const number = () => {
      const m = /^(0|[1-9][0-9]*)([.eE]?)/.exec(text.slice(i, i + 40));
      if (!m || m[2]) fail('a fraction or exponent');
      i += m[1].length;
      const v = Number(m[1]);
      if (m[1].length > 16 || v > MAX_JSON_INT) fail('an integer above 2^53');
      return v;
    };
    const string = () => {
      i++;
      let out = '';
      for (;;) {
        if (i >= text.length) fail('unterminated string');
        const c = text[i++];
        if (c === '"') return out;
        if (c < ' ') fail('a control character in a string');
        if (c !== '\\') { out += c; continue; }
        const e = text[i++];
        const simple = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e in simple) { out += simple[e]; continue; }
        if (e !== 'u' || !/^[0-9a-fA-F]{4}$/.test(text.slice(i, i + 4))) fail('a bad escape');
        out += String.fromCharCode(parseInt(text.slice(i, i + 4), 16));
        i += 4;
      }
    };
    const enter = () => { if (++depth > 32) fail('nesting deeper than 32 levels'); };
    const object = () => {
      enter();
      i++;
      const out = Object.create(null);
      ws();
      if (text[i] === '}') { i++; depth--; return out; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const k = string();
        if (Object.prototype.hasOwnProperty.call(out, k)) fail(`duplicate key "${k}"`);
        ws();
        if (text[i++] !== ':') fail('expected ":"');
        out[k] = value();
        ws();
        const c = text[i++];
        if (c === '}') { depth--; return out; }
        if (c !== ',') fail('expected "," or "}"');
      }
    };
    const array = () => {
      enter();
      i++;
      const out = [];
      ws();
      if (text[i] === ']') { i++; depth--; return out; }
      for (;;) {
        out.push(value());
        ws();
        const c = text[i++];
        if (c === ']') { depth--; return out; }
        if (c !== ',') fail('expected "," or "]"');
      }
    };
    const v = value();
    ws();
    if (i !== text.length) fail('trailing characters');
    return v;
  }

  // ---- schema helpers ----------------------------------------------------------------------
  const isObj = (o) => o !== null && typeof o === 'object' && !Array.isArray(o);
  function expectKeys(o, keys, where) {
    if (!isObj(o)) reject(`${where}: must be an object`);
    for (const k of Object.keys(o)) if (!keys.includes(k)) reject(`${where}: unknown key "${k}"`);
    for (const k of keys) if (!(k in o)) reject(`${where}.${k}: missing`);
  }
  const getStr = (o, k, w) => (typeof o[k] === 'string' ? o[k] : reject(`${w}.${k}: must be a string`));
  const ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;
  const getId = (o, k, w) => { const s = getStr(o, k, w); return ID_RE.test(s) ? s : reject(`${w}.${k}: bad id`); };
  function getInt(o, k, w, max) {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) reject(`${w}.${k}: must be an integer 0..${max}`);
    return v;
  }
  function getHex(o, k, w, bytes) {
    const s = getStr(o, k, w);
    if (s.length !== bytes * 2 || !/^[0-9a-f]*$/.test(s)) reject(`${w}.${k}: must be ${bytes * 2} lowercase hex characters`);
    const out = new Uint8Array(bytes);
    for (let j = 0; j < bytes; j++) out[j] = parseInt(s.slice(2 * j, 2 * j + 2), 16);
    return out;
  }
  function parseAmount(s, w) {
    if (typeof s !== 'string' || !/^(0|[1-9][0-9]{0,38})$/.test(s)) reject(`${w}: amount must match ^(0|[1-9][0-9]{0,38})$`);
    const v = BigInt(s);
    if (v > MAX_U128) reject(`${w}: amount above 2^128-1`);
    return v;
  }
  const getAmount = (o, k, w) => parseAmount(o[k], `${w}.${k}`);
  const getArr = (o, k, w) => (Array.isArray(o[k]) ? o[k] : reject(`${w}.${k}: must be an array`));

  // ---- encodings and hashes ----------------------------------------------------------------
  const enc = new TextEncoder();
  function concat(...parts) {
    const n = parts.reduce((a, p) => a + p.length, 0);
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of parts) { out.set(p, o); o += p.length; }
    return out;
  }
  function uint(v, bytes) {
    let x = BigInt(v);
    const out = new Uint8Array(bytes);
    for (let j = bytes - 1; j >= 0; j--) { out[j] = Number(x & 0xffn); x >>= 8n; }
    return out;
  }
  const str = (s) => concat(uint(s.length, 2), enc.encode(s));
  const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  const equal = (a, b) => a.length === b.length && a.every((x, j) => x === b[j]);
  const sha256 = async (b) => new Uint8Array(await crypto.subtle.digest('SHA-256', b));
  const tagCache = new Map();
  async function TH(tag, m) {
    if (!tagCache.has(tag)) tagCache.set(tag, await sha256(enc.encode(tag)));
    const t = tagCache.get(tag);
    return sha256(concat(t, t, m));
  }

  async function ed25519Verify(pub, sig, msg) {
    let key;
    try {
      key = await crypto.subtle.importKey('raw', pub, { name: 'Ed25519' }, false, ['verify']);
    } catch (e) {
      reject(`this browser's WebCrypto has no Ed25519 (${e.message})`);
    }
    return crypto.subtle.verify({ name: 'Ed25519' }, key, sig, msg);
  }

  // ---- manifest ----------------------------------------------------------------------------
  function parseManifest(text) {
    const j = parseStrict(text, 'manifest');
    const w = 'manifest';
    expectKeys(j, ['format', 'custodian_id', 'snapshot_id', 'snapshot_time', 'auditor_challenge', 'assets',
      'manifest_digest', 'signature'], w);
    if (j.format !== 'custody-por-manifest/1') reject(`manifest.format: unknown version "${j.format}"`);
    const m = {
      custodian_id: getId(j, 'custodian_id', w),
      snapshot_id: getHex(j, 'snapshot_id', w, 32),
      snapshot_time: getInt(j, 'snapshot_time', w, MAX_JSON_INT),
      auditor_challenge: getHex(j, 'auditor_challenge', w, 32),
      manifest_digest: getHex(j, 'manifest_digest', w, 32),
      assets: [],
    };
    const assets = getArr(j, 'assets', w);
    if (assets.length === 0) reject('manifest.assets: empty');
    assets.forEach((a, n) => {
      const aw = `manifest.assets[${n}]`;
      expectKeys(a, ['asset_id', 'decimals', 'depth', 'n_leaves', 'root_hash', 'root_sum', 'reserves_total',
        'reserves_digest'], aw);
      const x = {
        asset_id: getId(a, 'asset_id', aw),
        decimals: getInt(a, 'decimals', aw, 255),
        depth: getInt(a, 'depth', aw, 48),
        n_leaves: getInt(a, 'n_leaves', aw, MAX_JSON_INT),
        root_hash: getHex(a, 'root_hash', aw, 32),
        root_sum: getAmount(a, 'root_sum', aw),
        reserves_total: getAmount(a, 'reserves_total', aw),
        reserves_digest: getHex(a, 'reserves_digest', aw, 32),
      };
      if (x.depth < 1 || x.n_leaves < 1 || x.n_leaves > 2 ** x.depth) reject(`${aw}: depth or n_leaves out of range`);
      if (n > 0 && !(m.assets[n - 1].asset_id < x.asset_id)) reject(`${aw}: assets not in ascending order`);
      m.assets.push(x);
    });
    expectKeys(j.signature, ['alg', 'public_key', 'sig'], 'manifest.signature');
    if (j.signature.alg !== 'ed25519') reject('manifest.signature.alg: must be "ed25519"');
    m.public_key = getHex(j.signature, 'public_key', 'manifest.signature', 32);
    m.sig = getHex(j.signature, 'sig', 'manifest.signature', 64);
    return m;
  }

  async function manifestDigest(m) {
    const parts = [uint(1, 2), str(m.custodian_id), m.snapshot_id, uint(m.snapshot_time, 8), m.auditor_challenge,
      uint(m.assets.length, 4)];
    for (const a of m.assets) {
      const rc = await TH('por/v1/root', concat(m.snapshot_id, str(a.asset_id), uint(a.decimals, 1), uint(a.depth, 1),
        uint(a.n_leaves, 8), a.root_hash, uint(a.root_sum, 16)));
      parts.push(rc, uint(a.reserves_total, 16), a.reserves_digest);
    }
    return TH('por/v1/manifest', concat(...parts));
  }

  // ---- proof -------------------------------------------------------------------------------
  function parseProof(text) {
    const j = parseStrict(text, 'proof');
    const w = 'proof';
    expectKeys(j, ['format', 'custodian_id', 'snapshot_id', 'manifest_digest', 'client_account_id', 'entries'], w);
    if (j.format !== 'custody-por-inclusion/1') reject(`proof.format: unknown version "${j.format}"`);
    const p = {
      custodian_id: getId(j, 'custodian_id', w),
      snapshot_id: getHex(j, 'snapshot_id', w, 32),
      manifest_digest: getHex(j, 'manifest_digest', w, 32),
      client_account_id: getId(j, 'client_account_id', w),
      entries: [],
    };
    const entries = getArr(j, 'entries', w);
    if (entries.length === 0) reject('proof.entries: empty');
    entries.forEach((e, n) => {
      const ew = `proof.entries[${n}]`;
      expectKeys(e, ['asset_id', 'decimals', 'depth', 'n_leaves', 'root_hash', 'root_sum', 'parts'], ew);
      const x = {
        asset_id: getId(e, 'asset_id', ew),
        decimals: getInt(e, 'decimals', ew, 255),
        depth: getInt(e, 'depth', ew, 48),
        n_leaves: getInt(e, 'n_leaves', ew, MAX_JSON_INT),
        root_hash: getHex(e, 'root_hash', ew, 32),
        root_sum: getAmount(e, 'root_sum', ew),
        parts: [],
      };
      const parts = getArr(e, 'parts', ew);
      if (parts.length < 1 || parts.length > 16) reject(`${ew}.parts: must hold 1..16 parts`);
      parts.forEach((q, k) => {
        const pw = `${ew}.parts[${k}]`;
        expectKeys(q, ['index', 'part_index', 'part_count', 'salt', 'amount', 'path'], pw);
        const path = getArr(q, 'path', pw);
        if (path.length > 48) reject(`${pw}.path: longer than 48`);
        x.parts.push({
          index: getInt(q, 'index', pw, MAX_JSON_INT),
          part_index: getInt(q, 'part_index', pw, 65535),
          part_count: getInt(q, 'part_count', pw, 65535),
          salt: getHex(q, 'salt', pw, 32),
          amount: getAmount(q, 'amount', pw),
          path: path.map((s, h) => {
            const sw = `${pw}.path[${h}]`;
            expectKeys(s, ['hash', 'sum'], sw);
            return { hash: getHex(s, 'hash', sw, 32), sum: getAmount(s, 'sum', sw) };
          }),
        });
      });
      p.entries.push(x);
    });
    return p;
  }

  // The whole client check. Resolves to {ok, error, totals: [[asset, BigInt]]}.
  async function verifyInclusion({ proofText, manifestText, pubkeyHex, account, expect = {}, publishedDigestHex = '' }) {
    try {
      if (!ID_RE.test(account)) reject('account id must be 1 to 64 characters of [A-Za-z0-9._:-]');
      const pinned = getHex({ k: pubkeyHex.trim() }, 'k', 'public key', 32);
      const m = parseManifest(manifestText);
      // 1. Signature under the pinned key, digest recomputed, and the published digest.
      if (!equal(m.public_key, pinned)) reject('manifest: signed with a key other than the pinned one');
      const digest = await manifestDigest(m);
      if (!equal(digest, m.manifest_digest)) reject('manifest: manifest_digest does not match its content');
      if (!(await ed25519Verify(pinned, m.sig, digest))) reject('manifest: the Ed25519 signature does not verify');
      if (publishedDigestHex.trim() !== '' && publishedDigestHex.trim() !== hex(digest)) {
        reject('manifest: manifest_digest differs from the published digest');
      }
      const p = parseProof(proofText);
      if (p.custodian_id !== m.custodian_id) reject('proof: custodian_id differs from the manifest');
      if (!equal(p.snapshot_id, m.snapshot_id)) reject('proof: snapshot_id differs from the manifest');
      if (!equal(p.manifest_digest, m.manifest_digest)) reject('proof: manifest_digest differs from the manifest');
      if (p.client_account_id !== account) reject(`proof: made for account ${p.client_account_id}, not ${account}`);
      const ref = await TH('por/v1/client', str(account));
      const totals = [];
      for (let n = 0; n < p.entries.length; n++) {
        const e = p.entries[n];
        const w = `proof.entries[${n}] (${e.asset_id})`;
        if (n > 0 && !(p.entries[n - 1].asset_id < e.asset_id)) reject(`${w}: entries not in ascending order`);
        // 2. D, n, root_hash and root_sum come from the manifest.
        const a = m.assets.find((x) => x.asset_id === e.asset_id);
        if (!a) reject(`${w}: asset is not in the manifest`);
        if (e.decimals !== a.decimals || e.depth !== a.depth || e.n_leaves !== a.n_leaves ||
            !equal(e.root_hash, a.root_hash) || e.root_sum !== a.root_sum) {
          reject(`${w}: root or shape differs from the signed manifest`);
        }
        const count = e.parts[0].part_count;
        if (count < 1 || count > 16 || e.parts.length !== count) reject(`${w}: a part is missing or duplicated`);
        const seenPart = new Set();
        const seenIndex = new Set();
        let total = 0n;
        const prefix = concat(m.snapshot_id, str(e.asset_id));
        for (let k = 0; k < e.parts.length; k++) {
          const q = e.parts[k];
          const pw = `${w}.parts[${k}]`;
          if (q.part_count !== count) reject(`${pw}: part_count differs between parts`);
          if (q.part_index >= count || seenPart.has(q.part_index)) reject(`${pw}: duplicated or missing part`);
          seenPart.add(q.part_index);
          // 3. Index inside [0, n), path of exactly D levels, leaf from the client's own id.
          if (q.index >= a.n_leaves) reject(`${pw}: index is at or beyond n (a padding slot)`);
          if (seenIndex.has(q.index)) reject(`${pw}: two parts at the same index`);
          seenIndex.add(q.index);
          if (q.path.length !== a.depth) reject(`${pw}: path has ${q.path.length} levels, depth is ${a.depth}`);
          let h = await TH('por/v1/leaf', concat(prefix, ref, uint(q.part_index, 2), uint(q.part_count, 2), q.salt,
            uint(q.amount, 16)));
          let s = q.amount;
          let index = BigInt(q.index);
          for (let level = 1; level <= a.depth; level++) {
            const sib = q.path[level - 1];
            const right = (index & 1n) === 1n;
            const [hl, sl, hr, sr] = right ? [sib.hash, sib.sum, h, s] : [h, s, sib.hash, sib.sum];
            const sum = sl + sr;
            if (sum > MAX_U128) reject(`${pw}: sums along the path overflow 2^128-1`);
            h = await TH('por/v1/node', concat(uint(level, 1), hl, uint(sl, 16), hr, uint(sr, 16)));
            s = sum;
            index >>= 1n;
          }
          if (!equal(h, a.root_hash) || s !== a.root_sum) reject(`${pw}: the path does not lead to the manifest's root`);
          total += q.amount;
        }
        // 4. The parts add up to the client's own record.
        if (e.asset_id in expect && BigInt(expect[e.asset_id]) !== total) {
          reject(`${w}: parts add up to ${total}, your record says ${expect[e.asset_id]}`);
        }
        totals.push([e.asset_id, total, a.decimals]);
      }
      for (const asset of Object.keys(expect)) {
        if (!totals.some(([x]) => x === asset)) reject(`proof: no entry for asset ${asset}`);
      }
      return { ok: true, error: '', totals };
    } catch (err) {
      if (err instanceof Reject) return { ok: false, error: err.message, totals: [] };
      return { ok: false, error: `error: ${err && err.message ? err.message : err}`, totals: [] };
    }
  }

  function formatUnits(v, decimals) {
    const d = v.toString().padStart(decimals + 1, '0');
    return decimals === 0 ? d : `${d.slice(0, d.length - decimals)}.${d.slice(d.length - decimals)}`;
  }

  return { verifyInclusion, parseStrict, parseAmount, formatUnits };
})();

if (typeof module !== 'undefined') module.exports = PorVerify;

// Tests of ui/static/webm.mjs, the link page's WebM reader: the test clip's
// codecs, duration and Cues, then a fuzz run over mutated and random bytes
// (it must never throw, and what it returns must be sane).
//
//   node test/unit/webm.test.mjs [--fuzz N]     (make test runs 20000)
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as W from "../../ui/static/webm.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const clip = new Uint8Array(fs.readFileSync(path.join(here, "../browser/testdata/clip.webm")));
const args = process.argv.slice(2);
const fuzzN = Number(args[args.indexOf("--fuzz") + 1]) || 20000;
const CLUSTER = [0x1f, 0x43, 0xb6, 0x75];

let failed = 0;
function test(name, f) {
  try { f(); console.log(`PASS ${name}`); } catch (e) { failed++; console.log(`FAIL ${name}: ${e.stack || e}`); }
}

// The clip's Cues, read as the page reads them.
function clipCues(h) {
  const n = W.cuesSize(clip.subarray(h.cues, h.cues + 16));
  assert.ok(n > 0, `Cues size ${n}`);
  return W.cues(clip.subarray(h.cues, h.cues + n), h.segment, h.scale, h.cluster);
}

test("the test clip: codecs, duration, Cues pointing at clusters", () => {
  const h = W.head(clip.subarray(0, 64 * 1024));
  assert.ok(h);
  assert.equal(h.type, 'video/webm; codecs="vp8,vorbis"');
  assert.ok(Math.abs(h.duration - 40) < 0.1, `duration ${h.duration}`);
  assert.equal(h.scale, 1e-3);
  assert.deepEqual([...clip.subarray(h.cluster, h.cluster + 4)], CLUSTER);
  assert.ok(h.cues > h.cluster && h.cues < clip.length, `cues at ${h.cues}`);
  const list = clipCues(h);
  assert.ok(list.length >= 10, `${list.length} cue points`);
  for (let i = 0; i < list.length; i++) {
    const [t, off] = list[i];
    assert.deepEqual([...clip.subarray(off, off + 4)], CLUSTER, `cue ${i} at ${off} is not a cluster`);
    if (i) assert.ok(t >= list[i - 1][0] && off > list[i - 1][1]);
  }
  assert.equal(list[0][1], h.cluster);
  // A time gives the last cue at or before it.
  const at35 = W.offsetAt(list, 35), cue = list.filter(([t]) => t <= 35).pop();
  assert.equal(at35, cue[1]);
  assert.equal(W.offsetAt(list, -1), list[0][1]);
  assert.equal(W.offsetAt([], 3), -1);
});

test("not a WebM, or cut short: nothing", () => {
  assert.equal(W.head(new Uint8Array(0)), null);
  assert.equal(W.head(new Uint8Array([0x1a, 0x45, 0xdf])), null);
  assert.equal(W.head(fs.readFileSync(path.join(here, "../browser/testdata/tone.mp3"))), null);
  assert.equal(W.cuesSize(new Uint8Array([0x1c, 0x53, 0xbb, 0x6b, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), -1); // unknown size
  assert.equal(W.cuesSize(new Uint8Array([0x1c, 0x53, 0xbb, 0x6b, 0x10, 0x50, 0x00, 0x00])), -1); // 5 MiB: past the limit
  assert.equal(W.cuesSize(new Uint8Array([0x1c, 0x53, 0xbb, 0x6b, 0x88])), 13); // what to read: header and data
  assert.deepEqual(W.cues(new Uint8Array([0x1c, 0x53, 0xbb, 0x6b, 0x85, 0xbb, 0x83]), 0, 1e-3, 0), []); // a cue point cut short
});

// sane checks what the reader returned for any input.
function sane(h, len) {
  if (h === null) return;
  assert.match(h.type, /^(video|audio)\/webm; codecs="[a-z0-9.]+(,[a-z0-9.]+)*"$/);
  assert.ok(Number.isNaN(h.duration) || (h.duration > 0 && Number.isFinite(h.duration)), `duration ${h.duration}`);
  assert.ok(Number.isSafeInteger(h.segment) && h.segment > 0 && h.segment <= len);
  assert.ok(h.scale > 0 && Number.isFinite(h.scale));
  assert.ok(h.cues === -1 || (Number.isSafeInteger(h.cues) && h.cues >= h.segment));
  assert.ok(h.cluster === -1 || (Number.isSafeInteger(h.cluster) && h.cluster >= h.segment && h.cluster < len));
}
function saneCues(list) {
  assert.ok(list.length <= 200000);
  for (let i = 0; i < list.length; i++) {
    assert.ok(Number.isFinite(list[i][0]) && list[i][0] >= 0 && Number.isSafeInteger(list[i][1]) && list[i][1] >= 0);
    if (i) assert.ok(list[i][0] >= list[i - 1][0]);
  }
}

test(`fuzz: ${fuzzN} mutated and random inputs, no throw, sane results`, () => {
  let seed = 0x9e3779b9;
  const rnd = (n) => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) % n; };
  const h0 = W.head(clip.subarray(0, 64 * 1024));
  const cuesBytes = clip.slice(h0.cues, h0.cues + W.cuesSize(clip.subarray(h0.cues, h0.cues + 16)));
  const heads = clip.slice(0, 4096);
  const t0 = Date.now();
  let heads0 = 0, lists = 0;
  for (let i = 0; i < fuzzN; i++) {
    const kind = rnd(3);
    let b = kind === 0 ? heads.slice(0, 1 + rnd(heads.length)) : kind === 1 ? cuesBytes.slice() : new Uint8Array(rnd(256));
    if (kind === 2) for (let k = 0; k < b.length; k++) b[k] = rnd(256);
    const muts = 1 + rnd(8);
    for (let m = 0; m < muts && b.length; m++) {
      const at = rnd(b.length);
      switch (rnd(4)) {
        case 0: b[at] = rnd(256); break;
        case 1: b[at] ^= 1 << rnd(8); break;
        case 2: b[at] = [0x01, 0x08, 0x10, 0x40, 0x7f, 0x80, 0xff][rnd(7)]; break; // vint length markers
        case 3: b = b.slice(0, at); break;
      }
    }
    try {
      const h = W.head(b);
      sane(h, b.length);
      if (h) heads0++;
      W.cuesSize(b);
      const l = W.cues(b, rnd(100), [1e-3, 1e-9, 1][rnd(3)], rnd(2) ? -1 : rnd(1000));
      saneCues(l);
      if (l.length) lists++;
    } catch (e) {
      throw new Error(`input ${i} (${Buffer.from(b).toString("hex").slice(0, 200)}): ${e.message}`);
    }
  }
  console.log(`  ${fuzzN} inputs in ${Date.now() - t0} ms: ${heads0} read as a WebM head, ${lists} gave cue points`);
  assert.ok(heads0 > fuzzN / 100 && lists > fuzzN / 100, "the mutations hardly reach the parsers");
});

console.log(`${failed ? "FAIL" : "ok"} webm.mjs`);
process.exit(failed ? 1 : 0);

// webm.mjs: what the link page's MediaSource path needs from a WebM file,
// read from hostile bytes with every length checked (docs/decisions.md 62):
// the codecs, for the SourceBuffer's type; the duration, so the player can
// seek anywhere; and the Cues, which give the byte offset of the cluster
// to read from for a time. Nothing here throws on bad input: a field it
// cannot read is left out, and the page then plays the file from its head.
// test/unit/webm.test.mjs checks it on the test clip and fuzzes it.

// EBML element IDs (Matroska).
const EBML = 0x1a45dfa3, SEGMENT = 0x18538067, SEEKHEAD = 0x114d9b74, SEEK = 0x4dbb, SEEKID = 0x53ab,
  SEEKPOS = 0x53ac, INFO = 0x1549a966, SCALE = 0x2ad7b1, DURATION = 0x4489, TRACKS = 0x1654ae6b,
  CLUSTER = 0x1f43b675, CUES = 0x1c53bb6b, CUEPOINT = 0xbb, CUETIME = 0xb3, CUEPOS = 0xb7, CUECLUSTER = 0xf1;

// The largest Cues element the page reads (a 2 h video has a few thousand
// cue points of ~20 bytes), and the most cue points kept.
export const MAX_CUES_BYTES = 4 << 20;
const MAX_CUES = 200000;

// vint reads an EBML variable-length integer at i: {v, n} (the value and
// its length in bytes; an ID keeps its length marker), or null. A size
// whose value bits are all ones is unknown: v = -1.
function vint(b, i, id) {
  if (i >= b.length) return null;
  const first = b[i];
  let n = 1, mask = 0x80;
  while (n <= 8 && !(first & mask)) { n++; mask >>= 1; }
  if (n > (id ? 4 : 8) || i + n > b.length) return null;
  let v = id ? first : first & (mask - 1), ones = (first & (mask - 1)) === mask - 1;
  for (let k = 1; k < n; k++) { v = v * 256 + b[i + k]; if (b[i + k] !== 0xff) ones = false; }
  if (!id && ones) v = -1;
  if (v > Number.MAX_SAFE_INTEGER) return null;
  return { v, n };
}

// header reads an element header at i: {id, size (−1: unknown), data (the
// offset of its data)}, or null.
function header(b, i) {
  const id = vint(b, i, true);
  if (!id) return null;
  const size = vint(b, i + id.n, false);
  if (!size) return null;
  return { id: id.v, size: size.v, data: i + id.n + size.n };
}

// uint reads an unsigned integer element's data, or −1.
function uint(b, i, n) {
  if (n < 1 || n > 7 || i + n > b.length) return -1;
  let v = 0;
  for (let k = 0; k < n; k++) v = v * 256 + b[i + k];
  return v;
}

// float reads a float element's data (4 or 8 bytes, big-endian), or NaN.
function float(b, i, n) {
  if ((n !== 4 && n !== 8) || i + n > b.length) return NaN;
  const dv = new DataView(b.buffer, b.byteOffset + i, n);
  return n === 4 ? dv.getFloat32(0) : dv.getFloat64(0);
}

// children calls f(h) for each child element in [from, to) of b whose
// header and data fit; it stops at the first that does not, or when f
// returns false.
function children(b, from, to, f) {
  let i = from;
  const end = Math.min(to, b.length);
  while (i < end) {
    const h = header(b, i);
    if (!h || h.size < 0 || h.data + h.size > end) return;
    if (f(h) === false) return;
    i = h.data + h.size;
  }
}

// codecsOf returns the MediaSource codecs of a WebM's tracks found in b
// (CodecID elements, ID 0x86 with a one-byte size, as every muxer writes
// them) and whether one is video, or null.
const CODECS = { V_VP8: "vp8", V_VP9: "vp9", V_AV1: "av01.0.08M.08", A_OPUS: "opus", A_VORBIS: "vorbis" };
function codecsOf(b) {
  const out = [];
  let video = false;
  for (const id of Object.keys(CODECS)) {
    for (let i = 0; i + 2 + id.length <= b.length; i++) {
      if (b[i] !== 0x86 || b[i + 1] !== (0x80 | id.length)) continue;
      let k = 0;
      while (k < id.length && b[i + 2 + k] === id.charCodeAt(k)) k++;
      if (k === id.length) { out.push(CODECS[id]); if (id[0] === "V") video = true; break; }
    }
  }
  return out.length ? { codecs: out, video } : null;
}

// head reads a WebM's first bytes (the page reads 64 KiB): {type (the
// MediaSource type), duration (s, or NaN), segment (the offset of the
// Segment's data, which Cues positions count from), scale (s per
// timestamp tick), cues (the absolute offset of the Cues element, or −1),
// cluster (the offset of the first Cluster, or −1)}, or null if b is not a
// WebM whose codecs it knows.
export function head(b) {
  if (!(b instanceof Uint8Array)) b = new Uint8Array(b.buffer || b, b.byteOffset || 0, b.byteLength);
  const e = header(b, 0);
  if (!e || e.id !== EBML || e.size < 0) return null;
  const seg = header(b, e.data + e.size);
  if (!seg || seg.id !== SEGMENT) return null;
  const c = codecsOf(b);
  if (!c) return null;
  const out = { type: (c.video ? "video" : "audio") + '/webm; codecs="' + c.codecs.join(",") + '"', duration: NaN, segment: seg.data, scale: 1e-3, cues: -1, cluster: -1 };
  const segEnd = seg.size < 0 ? Infinity : seg.data + seg.size;
  let ticks = NaN;
  // The Segment's children up to the first Cluster: a child of unknown
  // size (a live stream's Cluster) or one past b ends the walk.
  let i = seg.data;
  while (i < Math.min(segEnd, b.length)) {
    const h = header(b, i);
    if (!h) break;
    if (h.id === CLUSTER) { out.cluster = i; break; }
    if (h.size < 0) break;
    if (h.id === CUES) out.cues = i;
    if (h.data + h.size <= b.length) {
      if (h.id === SEEKHEAD) {
        children(b, h.data, h.data + h.size, (s) => {
          if (s.id !== SEEK) return;
          let id = -1, pos = -1;
          children(b, s.data, s.data + s.size, (f) => {
            if (f.id === SEEKID) id = uint(b, f.data, f.size);
            else if (f.id === SEEKPOS) pos = uint(b, f.data, f.size);
          });
          if (id === CUES && pos >= 0 && out.cues < 0) out.cues = seg.data + pos;
        });
      } else if (h.id === INFO) {
        children(b, h.data, h.data + h.size, (f) => {
          if (f.id === SCALE) { const v = uint(b, f.data, f.size); if (v > 0) out.scale = v / 1e9; }
          else if (f.id === DURATION) ticks = float(b, f.data, f.size);
        });
      }
    }
    i = h.data + h.size;
  }
  if (ticks > 0 && isFinite(ticks)) out.duration = ticks * out.scale;
  if (out.cues >= 0 && seg.size >= 0 && out.cues >= segEnd) out.cues = -1;
  return out;
}

// cuesSize returns the bytes to read for the Cues element whose header
// starts b (the header and its data), or −1 if b does not start one or it
// is larger than MAX_CUES_BYTES.
export function cuesSize(b) {
  if (!(b instanceof Uint8Array)) b = new Uint8Array(b.buffer || b, b.byteOffset || 0, b.byteLength);
  const h = header(b, 0);
  if (!h || h.id !== CUES || h.size < 0 || h.data + h.size > MAX_CUES_BYTES) return -1;
  return h.data + h.size;
}

// cues reads a whole Cues element (b starts at its header): the cue points
// as [seconds, absolute byte offset of the cluster] in time order, for a
// Segment whose data starts at segment and a timestamp tick of scale s;
// empty when it cannot read them. Offsets not before the first cluster
// (a cue cannot point into the headers) are dropped.
export function cues(b, segment, scale, firstCluster) {
  if (!(b instanceof Uint8Array)) b = new Uint8Array(b.buffer || b, b.byteOffset || 0, b.byteLength);
  const h = header(b, 0), out = [];
  if (!h || h.id !== CUES || h.size < 0) return out;
  children(b, h.data, h.data + h.size, (p) => {
    if (p.id !== CUEPOINT) return;
    let t = -1, pos = -1;
    children(b, p.data, p.data + p.size, (f) => {
      if (f.id === CUETIME) t = uint(b, f.data, f.size);
      else if (f.id === CUEPOS && pos < 0) {
        children(b, f.data, f.data + f.size, (g) => { if (g.id === CUECLUSTER) pos = uint(b, g.data, g.size); });
      }
    });
    if (t >= 0 && pos >= 0 && segment + pos >= firstCluster) out.push([t * scale, segment + pos]);
    return out.length < MAX_CUES;
  });
  out.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  return out;
}

// offsetAt returns the offset of the cluster to read from for time t: the
// last cue at or before it (the first cue for a time before them all), or
// −1 without cues.
export function offsetAt(list, t) {
  if (!list.length) return -1;
  let lo = 0, hi = list.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (list[mid][0] <= t) lo = mid + 1; else hi = mid; }
  return list[Math.max(0, lo - 1)][1];
}

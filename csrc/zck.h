/* zck.h - public C API of the zstd_chunked native core.
 *
 * This header is read verbatim by csrc/build_ffi.py as the cffi cdef, so it holds
 * only declarations cffi can parse: no #include, no #if, no macros, stdint/stddef
 * types only.  C code includes it through zck_internal.h, which pulls in the
 * standard headers first.
 *
 * Conventions
 *   - Functions that can fail return an int error code from enum zck_error
 *     (ZCK_OK == 0).  zck_error_name() names every code.  C never raises and
 *     never prints; the Python layer (_native.py) turns codes into exceptions.
 *   - Contexts are opaque and come in create/free pairs.  Every *_free accepts
 *     NULL.  Constructors return NULL on allocation failure.
 *   - There is no global mutable state: distinct contexts may be used from
 *     distinct threads at the same time; one context must not be used from two
 *     threads at once unless its section says otherwise.
 *   - Offsets and sizes that describe blobs or files are uint64_t.
 */

/* ------------------------------------------------------------------ errors */

/* The numbers are part of the API: never renumber, only append. */
enum zck_error {
    ZCK_OK = 0,

    /* generic (1..19) */
    ZCK_E_NOMEM = 1,               /* memory allocation failed */
    ZCK_E_INVALID_ARGUMENT = 2,    /* NULL pointer or out-of-range argument */
    ZCK_E_STATE = 3,               /* call not allowed in the object's current state */
    ZCK_E_BUSY = 4,                /* pool: a batch is already in flight */
    ZCK_E_NOT_SUBMITTED = 5,       /* pool: wait() without a submitted batch */
    ZCK_E_THREAD = 6,              /* a thread, mutex or condition could not be created */
    ZCK_E_ZSTD = 7,                /* libzstd reported an error not listed below */
    ZCK_E_DST_TOO_SMALL = 8,       /* output buffer too small */
    ZCK_E_OVERFLOW = 9,            /* a size computation would overflow */
    ZCK_E_LEVEL = 10,              /* compression level out of libzstd's range */
    ZCK_E_CAPACITY = 11,           /* output record array too small (see the function) */
    ZCK_E_UNSUPPORTED = 12,        /* implementation not available on this CPU or build */

    /* skippable frames and footer (20..39) */
    ZCK_E_SKIPPABLE_MAGIC = 20,        /* bytes are not a skippable frame header */
    ZCK_E_FOOTER_TRUNCATED = 21,       /* blob too short to hold a footer frame */
    ZCK_E_FOOTER_MAGIC = 22,           /* no known footer magic at the end of the blob */
    ZCK_E_FOOTER_FRAME = 23,           /* footer not wrapped in a matching skippable frame */
    ZCK_E_FOOTER_MANIFEST_TYPE = 24,   /* manifest type is not 1 */
    ZCK_E_FOOTER_TOC_EMPTY = 25,       /* TOC length is zero */
    ZCK_E_FOOTER_TOC_OFFSET = 26,      /* TOC offset leaves no room for its skippable header */
    ZCK_E_FOOTER_TOC_RANGE = 27,       /* TOC does not end before the footer frame */
    ZCK_E_FOOTER_TARSPLIT_PARTIAL = 28,/* tar-split fields neither all zero nor all set */
    ZCK_E_FOOTER_TARSPLIT_OFFSET = 29, /* tar-split offset leaves no room for its header */
    ZCK_E_FOOTER_TARSPLIT_RANGE = 30,  /* tar-split does not end before the footer frame */
    ZCK_E_FOOTER_OVERLAP = 31,         /* TOC and tar-split frames overlap */

    /* frame scanner (40..59) */
    ZCK_E_FRAME_GARBAGE = 40,          /* neither a zstd nor a skippable magic at a frame start */
    ZCK_E_FRAME_TRUNCATED = 41,        /* input ended inside a frame */
    ZCK_E_FRAME_RESERVED_BIT = 42,     /* frame header descriptor reserved bit set */
    ZCK_E_FRAME_BLOCK_TYPE = 43,       /* reserved block type 3 */
    ZCK_E_FRAME_BLOCK_SIZE = 44,       /* block size above 128 KiB */

    /* decompression (60..79) */
    ZCK_E_DATA_TRUNCATED = 60,         /* input ended before the expected size was produced */
    ZCK_E_CORRUPT = 61,                /* libzstd: corrupted data / bad frame parameters */
    ZCK_E_CHECKSUM = 62,               /* libzstd: content checksum mismatch */
    ZCK_E_WINDOW_TOO_LARGE = 63,       /* frame needs a window above the configured cap */
    ZCK_E_NOT_ZSTD = 64,               /* libzstd: unknown frame magic */
    ZCK_E_EXTRA_DATA = 65,             /* the frames hold more bytes than expected */

    /* content checks (80..89) */
    ZCK_E_SHA256_MISMATCH = 80,        /* bytes do not have the expected SHA-256 */
    ZCK_E_CRC64_MISMATCH = 81,         /* bytes do not have the expected CRC-64 */

    /* tar input the writer cannot represent (90..99) */
    ZCK_E_TAR_DUPLICATE_PATH = 90,     /* a second entry for one cleaned path */
    ZCK_E_TAR_NEGATIVE_SIZE = 91       /* an entry with a negative size */
};

/* Name of an error code ("ZCK_E_NOMEM", ...); "ZCK_E_UNKNOWN" for other values. */
const char *zck_error_name(int code);
/* One-line English description of an error code. */
const char *zck_error_message(int code);

/* Version of the libzstd actually linked (ZSTD_versionString / ZSTD_versionNumber). */
const char *zck_zstd_version(void);
unsigned zck_zstd_version_number(void);

/* ------------------------------------------------------------------ CRC-64 */

/* CRC-64 with the ISO polynomial, bit-reflected, init and final XOR all-ones:
 * exactly Go's crc64.Update(crc, crc64.MakeTable(crc64.ISO), p).  Chainable:
 * zck_crc64_update(zck_crc64_update(0, a), b) == zck_crc64_update(0, a || b).
 * p may be NULL when n == 0. */
uint64_t zck_crc64_update(uint64_t crc, const uint8_t *p, size_t n);

/* Implementations of zck_crc64_update; all give the same results. */
enum zck_crc64_choice {
    ZCK_CRC64_AUTO = 0,    /* the fastest one this CPU supports */
    ZCK_CRC64_TABLES = 1,  /* slicing-by-16 tables, plain C */
    ZCK_CRC64_CLMUL = 2    /* x86-64 PCLMULQDQ folding (inputs of 128 bytes or more) */
};
/* *out = zck_crc64_update(crc, p, n) computed by implementation `impl`.
 * Errors: ZCK_E_INVALID_ARGUMENT, ZCK_E_UNSUPPORTED (CLMUL asked for but not
 * available on this CPU or in this build). */
int zck_crc64_impl(int impl, uint64_t crc, const uint8_t *p, size_t n, uint64_t *out);
/* What ZCK_CRC64_AUTO uses for long inputs here: ZCK_CRC64_CLMUL or ZCK_CRC64_TABLES. */
int zck_crc64_best(void);

/* ----------------------------------------------------------------- SHA-256 */

/* SHA-256 (FIPS 180-4), written here: a portable implementation and, in x86-64
 * GCC/Clang builds, one using the SHA extensions, picked at run time. */
enum zck_sha256_choice {
    ZCK_SHA256_AUTO = 0,      /* the fastest one this CPU supports */
    ZCK_SHA256_PORTABLE = 1,  /* plain C */
    ZCK_SHA256_SHANI = 2      /* x86-64 SHA extensions */
};

/* SHA-256 of p[0..n) into out[0..32), fastest implementation.  p may be NULL
 * when n == 0. */
void zck_sha256(const uint8_t *p, size_t n, uint8_t *out);
/* Same with the implementation `impl` (enum zck_sha256_choice).  Errors:
 * ZCK_E_INVALID_ARGUMENT, ZCK_E_UNSUPPORTED (SHA-NI asked for but not
 * available on this CPU or in this build). */
int zck_sha256_impl(int impl, const uint8_t *p, size_t n, uint8_t *out);
/* What ZCK_SHA256_AUTO uses here: ZCK_SHA256_SHANI or ZCK_SHA256_PORTABLE. */
int zck_sha256_best(void);

/* ---------------------------------------------------------------- path set */

/* A set of byte strings (the writer's duplicate-path check), stored as 128-bit
 * SHA-256 prefixes: 16 bytes per slot, at most 3/4 full, however long the
 * strings are.  Two distinct strings collide with probability about n^2/2^129. */
typedef struct zck_pathset zck_pathset;

zck_pathset *zck_pathset_new(void);
void zck_pathset_free(zck_pathset *s);
/* Add p[0..n) (p may be NULL when n == 0).  *added is 1 when it was not in the
 * set, 0 when it was.  Errors: ZCK_E_INVALID_ARGUMENT, ZCK_E_NOMEM,
 * ZCK_E_OVERFLOW (the set is left as it was). */
int zck_pathset_add(zck_pathset *s, const uint8_t *p, size_t n, int *added);
size_t zck_pathset_count(const zck_pathset *s);
/* Bytes the set holds (for ffi.gc's size hint). */
size_t zck_pathset_sizeof(const zck_pathset *s);
/* Bytes of one stored key (a SHA-256 prefix). */
#define ZCK_PATHSET_KEY 16
/* Move the keys of the set, in ascending byte order, to out (room for cap
 * keys of ZCK_PATHSET_KEY bytes), set *n to their count and empty the set
 * (its table keeps its size).  Errors: ZCK_E_INVALID_ARGUMENT,
 * ZCK_E_DST_TOO_SMALL (cap below the count; the set is left as it was). */
int zck_pathset_drain_sorted(zck_pathset *s, uint8_t *out, size_t cap, size_t *n);

/* Duplicate keys across sorted runs, found with a bounded amount of memory.
 * The runs (each in ascending order, as zck_pathset_drain_sorted writes them)
 * are kept by the caller, who feeds each one in pieces when asked:
 *
 *     m = zck_keymerge_new(runs);
 *     loop: zck_keymerge_next(m, &want, &need, dup)
 *         ZCK_OK, want == 0: no key occurs twice;
 *         ZCK_OK, want == 1: give run `need` its next keys (none when it has
 *             no more) with zck_keymerge_feed(m, need, keys, n),
 *             n <= ZCK_KEYMERGE_FEED;
 *         ZCK_E_TAR_DUPLICATE_PATH: dup (ZCK_PATHSET_KEY bytes) holds a key
 *             met twice.
 *
 * Memory: ZCK_KEYMERGE_FEED keys per run. */
#define ZCK_KEYMERGE_FEED 256
typedef struct zck_keymerge zck_keymerge;

/* NULL when out of memory or when runs is too large to size. */
zck_keymerge *zck_keymerge_new(size_t runs);
void zck_keymerge_free(zck_keymerge *m);
size_t zck_keymerge_sizeof(const zck_keymerge *m);
/* Errors: ZCK_E_INVALID_ARGUMENT (NULL arguments), ZCK_E_STATE (a run was
 * asked for and not fed). */
int zck_keymerge_next(zck_keymerge *m, int *want, size_t *need, uint8_t *dup);
/* Errors: ZCK_E_INVALID_ARGUMENT (NULL keys with n > 0, n above
 * ZCK_KEYMERGE_FEED), ZCK_E_STATE (run is not the one asked for). */
int zck_keymerge_feed(zck_keymerge *m, size_t run, const uint8_t *keys, size_t n);

/* ------------------------------------------------- JSON text and tar-split */

/* JSON string escaping of the two Go encoders the format uses.  Both escape
 * '"', '\\', control characters, '<', '>', '&', U+2028 and U+2029, and write
 * each byte that is not part of valid UTF-8 as \ufffd; encoding/json writes
 * 0x08 and 0x0C as \b and \f, json-iterator as \u0008 and \u000c. */
enum zck_json_flavor {
    ZCK_JSON_JSONITER = 0,      /* json-iterator (the TOC) */
    ZCK_JSON_ENCODING_JSON = 1  /* encoding/json (tar-split) */
};
/* Room zck_json_quote needs for n input bytes (quotes included); 0 on overflow. */
size_t zck_json_quote_bound(size_t n);
/* p[0..n) as a quoted JSON string into dst.  Errors: ZCK_E_INVALID_ARGUMENT,
 * ZCK_E_OVERFLOW, ZCK_E_DST_TOO_SMALL (cap < zck_json_quote_bound(n)). */
int zck_json_quote(int flavor, const uint8_t *p, size_t n, uint8_t *dst, size_t cap, size_t *written);
/* 1 when p[0..n) is valid UTF-8 as Go's utf8.Valid sees it, else 0. */
int zck_utf8_valid(const uint8_t *p, size_t n);
/* Go's filepath.Clean (Unix) of p[0..n) into dst (cap >= n + 1).  Errors:
 * ZCK_E_INVALID_ARGUMENT, ZCK_E_OVERFLOW, ZCK_E_DST_TOO_SMALL. */
int zck_clean_path(const uint8_t *p, size_t n, uint8_t *dst, size_t cap, size_t *written);

/* The tar-split lines the reference writer produces (storage.NewJSONPacker),
 * one call per entry, collected in a buffer the caller takes from.  Keeps
 * the cleaned path of every file entry (in a zck_pathset) to refuse
 * duplicates as the packer does.  A failed call writes no line and records
 * no path. */
typedef struct zck_tarsplit zck_tarsplit;

zck_tarsplit *zck_tarsplit_new(void);
void zck_tarsplit_free(zck_tarsplit *t);
size_t zck_tarsplit_sizeof(const zck_tarsplit *t);
/* A segment line (type 2) for raw tar bytes p[0..n); nothing when n == 0.
 * Errors: ZCK_E_INVALID_ARGUMENT, ZCK_E_NOMEM, ZCK_E_OVERFLOW. */
int zck_tarsplit_segment(zck_tarsplit *t, const uint8_t *p, size_t n);
/* A file line (type 1) for the entry named name[0..n) (the header's bytes)
 * of `size` bytes; crc points at the 8 big-endian bytes of the payload's
 * CRC-64 when size > 0 and is NULL when size == 0.  Errors:
 * ZCK_E_TAR_DUPLICATE_PATH, ZCK_E_TAR_NEGATIVE_SIZE, ZCK_E_INVALID_ARGUMENT
 * (crc given with size 0 or missing with size > 0), ZCK_E_NOMEM, ZCK_E_OVERFLOW. */
int zck_tarsplit_file(zck_tarsplit *t, const uint8_t *name, size_t n, int64_t size, const uint8_t *crc);
/* The lines written since the last zck_tarsplit_clear: *n bytes at the
 * pointer returned (valid until the next call on t). */
const uint8_t *zck_tarsplit_lines(const zck_tarsplit *t, size_t *n);
void zck_tarsplit_clear(zck_tarsplit *t);
/* Entries written so far (the next line's "position"); bytes written so far. */
uint64_t zck_tarsplit_position(const zck_tarsplit *t);
uint64_t zck_tarsplit_total(const zck_tarsplit *t);
/* Bounded memory for the duplicate check: after zck_tarsplit_set_run_keys(t, k)
 * with k > 0, a file call that finds k paths recorded and no run waiting
 * first moves their keys, sorted, into a run (zck_pathset_drain_sorted), which
 * the caller takes with zck_tarsplit_run and zck_tarsplit_run_clear.  The
 * calls then only catch a duplicate within one run; the caller finds those
 * between runs (zck_keymerge).  k == 0 (the default): one set, never drained.
 * Errors: ZCK_E_INVALID_ARGUMENT. */
int zck_tarsplit_set_run_keys(zck_tarsplit *t, size_t k);
/* Move the recorded keys into the run now (nothing when there are none).
 * Errors: ZCK_E_INVALID_ARGUMENT, ZCK_E_STATE (a run is waiting), ZCK_E_NOMEM. */
int zck_tarsplit_end_run(zck_tarsplit *t);
/* The waiting run: *n keys of ZCK_PATHSET_KEY bytes at the pointer returned
 * (*n == 0 when none; valid until the next call on t). */
const uint8_t *zck_tarsplit_run(const zck_tarsplit *t, size_t *n);
void zck_tarsplit_run_clear(zck_tarsplit *t);

/* The reader's fast path for tar-split lines (zck_tarsplit_scan.c): decodes
 * lines of exactly the shapes zck_tarsplit writes (names in printable ASCII
 * without '"' or '\\', no leading zeros, padded base64) and stops at any
 * other line, for the caller to decode with a general JSON decoder.  Keeps
 * the cleaned path of every file entry (in a zck_pathset); a file line whose
 * path is already there also stops the scan. */
typedef struct zck_tsscan zck_tsscan;

enum zck_tsscan_stop {
    ZCK_TSSCAN_END = 0,   /* every whole line of the input is decoded */
    ZCK_TSSCAN_OTHER = 1, /* the line at *consumed is not for the fast path (or has no newline) */
    ZCK_TSSCAN_FULL = 2   /* cap lines decoded (or out is full): call again from *consumed */
};
enum zck_tsscan_line {
    ZCK_TSSCAN_FIELDS = 5,  /* int64 fields per decoded line */
    ZCK_TSSCAN_FILE = 1,    /* field 0: the entry type */
    ZCK_TSSCAN_SEGMENT = 2
};

zck_tsscan *zck_tsscan_new(void);
void zck_tsscan_free(zck_tsscan *s);
size_t zck_tsscan_sizeof(const zck_tsscan *s);
/* Decode lines from in[0..n), at most cap of them, none longer than max_line
 * bytes with its newline.  For line i, fields[5i..5i+5) = type, position,
 * size (0 for a segment), name end, data end: the decoded bytes go to out
 * back to back, the name (file; empty for a segment) from the previous
 * line's data end (0 for the first) to the name end, then the data (the
 * segment's bytes, or a file's 8-byte CRC, empty for "payload":null) up to
 * the data end.  *lines, *consumed (input bytes), *out_len and *stop tell
 * where it stopped.  out needs no more room than n (a line never decodes to
 * more than its length).  Errors: ZCK_E_INVALID_ARGUMENT, ZCK_E_DST_TOO_SMALL
 * (the first line does not fit out), ZCK_E_NOMEM, ZCK_E_OVERFLOW (the lines
 * before the failure are reported). */
int zck_tsscan_lines(zck_tsscan *s, const uint8_t *in, size_t n, size_t max_line, int64_t *fields, size_t cap,
                     uint8_t *out, size_t out_cap, size_t *lines, size_t *consumed, size_t *out_len, int *stop);
/* Record the cleaned path of a file entry's name[0..n) that the caller decoded
 * itself; *added = 0 when the path was already recorded (a duplicate).
 * Errors: ZCK_E_INVALID_ARGUMENT, ZCK_E_NOMEM, ZCK_E_OVERFLOW. */
int zck_tsscan_add_path(zck_tsscan *s, const uint8_t *name, size_t n, int *added);

/* The reader's fast path for the TOC document (zck_toc_scan.c): decodes a
 * TOC whose keys are all spelt as writers spell them and whose values have
 * the types they must have; anything else clears *canonical, and the caller
 * decodes the document with its general decoder.  The input must be valid
 * UTF-8 (the caller checks it first). */
enum zck_tocscan_field {
    ZCK_TOCSCAN_FIELDS = 22,     /* int64 fields per entry */
    ZCK_TOCSCAN_FLAGS = 0,       /* ZCK_TOCSCAN_PYTHON | _BAD | _HAS_* */
    ZCK_TOCSCAN_START = 1,       /* byte offsets of the entry object in the input */
    ZCK_TOCSCAN_END = 2,
    ZCK_TOCSCAN_MODE = 3,        /* integers (0 when absent or null) */
    ZCK_TOCSCAN_SIZE = 4,
    ZCK_TOCSCAN_UID = 5,
    ZCK_TOCSCAN_GID = 6,
    ZCK_TOCSCAN_DEVMAJOR = 7,
    ZCK_TOCSCAN_DEVMINOR = 8,
    ZCK_TOCSCAN_OFFSET = 9,
    ZCK_TOCSCAN_ENDOFFSET = 10,
    ZCK_TOCSCAN_CHUNKSIZE = 11,
    ZCK_TOCSCAN_CHUNKOFFSET = 12,
    /* end offsets in out of the unescaped strings, written back to back in
     * this order (each starts where the one before ends; the first where
     * the previous entry's last ends, 0 for the first entry): type, name,
     * linkName, modtime, accesstime, changetime, digest, chunkDigest, chunkType */
    ZCK_TOCSCAN_TYPE_END = 13
};
enum zck_tocscan_flag {
    ZCK_TOCSCAN_PYTHON = 1,          /* has xattrs: decode this entry (START..END) in the caller */
    ZCK_TOCSCAN_BAD = 2,             /* a value the TOC rules refuse (type, name, negative size, digest) */
    ZCK_TOCSCAN_HAS_MODTIME = 4,     /* the time is set (not absent, not null) */
    ZCK_TOCSCAN_HAS_ACCESSTIME = 8,
    ZCK_TOCSCAN_HAS_CHANGETIME = 16,
    ZCK_TOCSCAN_NONASCII = 32        /* some string of the entry is not ASCII */
};
enum zck_tocscan_top {
    ZCK_TOCSCAN_TOP = 4,             /* int64 fields of the document */
    ZCK_TOCSCAN_VERSION = 0,
    ZCK_TOCSCAN_HAS_VERSION = 1,
    ZCK_TOCSCAN_DIGEST_START = 2,    /* tarSplitDigest in out ("" when absent or null) */
    ZCK_TOCSCAN_DIGEST_END = 3
};
/* Scan the TOC in[0..n): at most max_entries entries (more clears
 * *canonical).  fields has room for cap entries, out for out_cap >= n bytes,
 * top for ZCK_TOCSCAN_TOP values.  Errors: ZCK_E_INVALID_ARGUMENT,
 * ZCK_E_DST_TOO_SMALL (out_cap < n), ZCK_E_CAPACITY (more than cap entries). */
int zck_toc_scan(const uint8_t *in, size_t n, size_t max_entries, int64_t *fields, size_t cap, uint8_t *out,
                 size_t out_cap, int64_t *top, size_t *entries, size_t *out_len, int *canonical);

/* The reader's fast path for "TOC and tar-split describe the same entries"
 * (zck_tocmatch.c): walks the tar headers kept in the tar-split segments and
 * the TOC entries that are not chunks in step, and shows them equal or gives
 * up ("not shown": the caller runs the full check, which decides and words
 * any error).  It takes plain one-block USTAR/GNU headers itself (as the
 * Python fast parser does) and stops at any other segment, for the caller to
 * read and compare with the TOC entry it names, and report back.
 *
 * start: toc_fields / toc_text are a zck_toc_scan result of toc_entries
 * entries (kept alive by the caller until finish); chunk_type is the TOC type
 * of chunk entries; type_names holds, for each typeflag byte, the TOC type it
 * maps to in ZCK_TOCMATCH_TYPE_SLOT bytes, NUL-padded (empty: none).
 * run: segment i is segs[seg_ends[i-1]..seg_ends[i]) (from 0 for i = 0);
 * walks from segment *index.  *status: DONE (every segment taken), STOP
 * (segment *index is the caller's: its header starts after *pending bytes and
 * must equal TOC entry *entry, or -1 when none is left) or DIFFER (not shown).
 * take: after a STOP, matched = 1 when the caller found the header equal to
 * the entry, 0 when the segment held no header; pending_after is the padding
 * the next segment starts with.  *status: DONE (run again from *index + 1)
 * or DIFFER.  finish: *shown is the number of headers matched, or -1 (not
 * shown, also when a TOC entry is left over).  A name matched twice is not
 * shown either.  Errors: ZCK_E_INVALID_ARGUMENT (also for calls out of order
 * and ends out of order), ZCK_E_NOMEM, ZCK_E_OVERFLOW. */
typedef struct zck_tocmatch zck_tocmatch;
enum zck_tocmatch_const {
    ZCK_TOCMATCH_TYPE_SLOT = 16,
    ZCK_TOCMATCH_DONE = 0,
    ZCK_TOCMATCH_STOP = 1,
    ZCK_TOCMATCH_DIFFER = 2
};
zck_tocmatch *zck_tocmatch_new(void);
void zck_tocmatch_free(zck_tocmatch *m);
size_t zck_tocmatch_sizeof(const zck_tocmatch *m);
int zck_tocmatch_start(zck_tocmatch *m, const int64_t *toc_fields, size_t toc_entries, const uint8_t *toc_text,
                       size_t toc_text_len, const uint8_t *chunk_type, size_t chunk_type_len,
                       const uint8_t *type_names);
int zck_tocmatch_run(zck_tocmatch *m, const uint8_t *segs, const size_t *seg_ends, size_t nsegs, size_t *index,
                     int *status, int64_t *entry, size_t *pending);
int zck_tocmatch_take(zck_tocmatch *m, int matched, size_t pending_after, int *status);
int zck_tocmatch_finish(zck_tocmatch *m, int64_t *shown);

/* The entries of the TOC's "entries" array as json-iterator writes
 * minimal.FileMetadata (keys in struct order, empty and zero fields but type
 * and name omitted, strings quoted in the json-iterator flavor), separated by
 * commas, collected in a buffer the caller takes from.  The brackets and the
 * rest of the document are the caller's. */
typedef struct zck_toctext zck_toctext;

zck_toctext *zck_toctext_new(void);
void zck_toctext_free(zck_toctext *t);
size_t zck_toctext_sizeof(const zck_toctext *t);
/* One entry.  Every text is a pointer and a length (bytes, NUL allowed);
 * NULL is allowed with length 0.  type and name are always written;
 * linkname, digest, chunk_digest and chunk_type are omitted when empty.
 * Times (RFC 3339 text) are written as they are between quotes and omitted
 * when NULL; xattrs is the text of a JSON object, written as it is, omitted
 * when empty.  Errors: ZCK_E_INVALID_ARGUMENT, ZCK_E_NOMEM, ZCK_E_OVERFLOW
 * (nothing is written then). */
int zck_toctext_entry(zck_toctext *t, const uint8_t *type, size_t type_len, const uint8_t *name, size_t name_len,
                      const uint8_t *linkname, size_t linkname_len, int64_t mode, int64_t size, int64_t uid,
                      int64_t gid, const uint8_t *modtime, size_t modtime_len, const uint8_t *accesstime,
                      size_t accesstime_len, const uint8_t *changetime, size_t changetime_len, int64_t devmajor,
                      int64_t devminor, const uint8_t *xattrs, size_t xattrs_len, const uint8_t *digest,
                      size_t digest_len, int64_t offset, int64_t end_offset, int64_t chunk_size,
                      int64_t chunk_offset, const uint8_t *chunk_digest, size_t chunk_digest_len,
                      const uint8_t *chunk_type, size_t chunk_type_len);
/* The text written since the last zck_toctext_clear (valid until the next call on t). */
const uint8_t *zck_toctext_text(const zck_toctext *t, size_t *n);
void zck_toctext_clear(zck_toctext *t);
/* Entries written so far. */
uint64_t zck_toctext_count(const zck_toctext *t);

/* ----------------------------------------------------------------- chunker */

/* Chunk boundaries inside one file payload (FORMAT.md 1.3): bup-style rolling
 * sum (window 64, split when the low 16 bits of s2 are all ones) plus holes
 * (maximal runs of >= 1024 zero bytes, one "zeros" chunk each).  Results never
 * depend on how the payload is split across feed calls. */
typedef struct zck_chunker zck_chunker;

/* A completed chunk.  It starts where the previous cut ended (0 for the first
 * cut after new/reset) and ends at `end` (exclusive, bytes since reset).
 * `zeros` is 1 for a hole chunk, 0 for a data chunk. */
typedef struct {
    uint64_t end;
    uint32_t zeros;
} zck_cut;

zck_chunker *zck_chunker_new(void);
void zck_chunker_free(zck_chunker *c);
/* Start a new file (fresh rolling sum, offset 0, nothing pending). */
void zck_chunker_reset(zck_chunker *c);
size_t zck_chunker_sizeof(const zck_chunker *c);

/* Feed the next len bytes of the file.  Completed chunks are written to
 * cuts[0 .. *n_cuts).  *consumed is the number of input bytes used.
 * When cuts[] fills up the call stops early: if *consumed < len or
 * *n_cuts == cap, call again with the rest (data + *consumed, possibly
 * empty) and the same at_eof.
 * at_eof != 0 marks the end of the file: once all data is consumed, a pending
 * zero run is resolved (hole if >= 1024 bytes, otherwise data with split
 * checks) and the final chunk is closed.  After that the chunker only accepts
 * empty feeds until zck_chunker_reset (ZCK_E_STATE otherwise).
 * Errors: ZCK_E_INVALID_ARGUMENT (NULL pointers), ZCK_E_CAPACITY (cap == 0),
 * ZCK_E_STATE. */
int zck_chunker_feed(zck_chunker *c, const uint8_t *data, size_t len, int at_eof,
                     zck_cut *cuts, size_t cap, size_t *n_cuts, size_t *consumed);

/* Offset (bytes since reset) where the pending, still undecided run of zero
 * bytes starts; equals the number of bytes fed when no run is pending.  Every
 * byte fed at or after it is 0x00, so a caller may drop those bytes and
 * regenerate them once the next cut tells what they became. */
uint64_t zck_chunker_settled(const zck_chunker *c);
/* Number of bytes fed since reset. */
uint64_t zck_chunker_position(const zck_chunker *c);

/* ----------------------------------------------------- skippable + footer */

/* Write an 8-byte skippable frame header (magic 0x184D2A50, LE u32 size).
 * Errors: ZCK_E_INVALID_ARGUMENT, ZCK_E_OVERFLOW (payload_len > 0xFFFFFFFF). */
int zck_skippable_write(uint64_t payload_len, uint8_t *out8);
/* Parse an 8-byte skippable frame header (any magic 0x184D2A50..5F).
 * *magic_nibble receives the low 4 bits of the magic.
 * Errors: ZCK_E_INVALID_ARGUMENT, ZCK_E_SKIPPABLE_MAGIC. */
int zck_skippable_parse(const uint8_t *in8, uint32_t *payload_len, uint32_t *magic_nibble);

typedef struct {
    uint32_t version;               /* 1 (40-byte), 2 (56-byte) or 3 (64-byte) footer */
    uint64_t toc_offset;            /* blob offset of the compressed TOC data */
    uint64_t toc_length;            /* compressed TOC length */
    uint64_t toc_uncompressed;      /* TOC JSON length */
    uint64_t manifest_type;         /* always 1 */
    uint64_t tarsplit_offset;       /* 0 when absent (v1, v2, or v3 without tar-split) */
    uint64_t tarsplit_length;
    uint64_t tarsplit_uncompressed;
    uint64_t frame_offset;          /* parse only: blob offset of the footer's skippable header */
} zck_footer;

/* Write the 72-byte footer frame: skippable header (size 64) + v3 footer with
 * magic "GNUlInUx".  Only the TOC and tar-split fields of f are used; the
 * manifest type written is always 1.  Errors: ZCK_E_INVALID_ARGUMENT. */
int zck_footer_write(const zck_footer *f, uint8_t *out72);

/* Parse and validate the footer from the last tail_len = min(72, blob_size)
 * bytes of a blob of blob_size bytes (tail_len may also be larger than 72;
 * only the last 72 bytes are looked at).  Accepts v3, v2 and v1 footers.
 * Errors: ZCK_E_INVALID_ARGUMENT, ZCK_E_FOOTER_* (one code per rule). */
int zck_footer_parse(const uint8_t *tail, size_t tail_len, uint64_t blob_size, zck_footer *out);

/* ----------------------------------------------------------- frame scanner */

/* Incremental, bounded-memory walk over a blob made of zstd and skippable
 * frames.  Block contents are skipped, never buffered. */
typedef struct zck_framescan zck_framescan;

typedef struct {
    uint64_t offset;         /* blob offset of the frame's first byte */
    uint64_t size;           /* total frame size in bytes */
    uint32_t kind;           /* 0 = zstd frame, 1 = skippable frame */
    uint32_t magic_nibble;   /* skippable: low 4 bits of the magic; zstd: 0 */
    uint64_t content_size;   /* zstd frame content size, UINT64_MAX if absent; skippable: payload size */
} zck_frame_info;

zck_framescan *zck_framescan_new(void);
void zck_framescan_free(zck_framescan *s);
void zck_framescan_reset(zck_framescan *s);
size_t zck_framescan_sizeof(const zck_framescan *s);
/* Consume the next bytes of the blob.  Completed frames go to recs[0..*n).
 * Stops early (with *consumed < len) when recs[] is full.  Errors are sticky:
 * ZCK_E_FRAME_GARBAGE, ZCK_E_FRAME_RESERVED_BIT, ZCK_E_FRAME_BLOCK_TYPE,
 * ZCK_E_FRAME_BLOCK_SIZE, ZCK_E_INVALID_ARGUMENT, ZCK_E_CAPACITY (cap == 0). */
int zck_framescan_feed(zck_framescan *s, const uint8_t *data, size_t len,
                       zck_frame_info *recs, size_t cap, size_t *n, size_t *consumed);
/* End of input: ZCK_E_FRAME_TRUNCATED if it ended inside a frame. */
int zck_framescan_finish(zck_framescan *s);
/* Blob offset of the frame being parsed (after an error: the frame where it
 * was found; otherwise where the next frame starts). */
uint64_t zck_framescan_offset(const zck_framescan *s);
/* Blob offset of the offending field after an error (magic, header descriptor
 * or block header); equals zck_framescan_offset() for truncation. */
uint64_t zck_framescan_error_offset(const zck_framescan *s);

/* ------------------------------------------------------ compression pool */

/* Range of compression levels accepted (ZSTD_minCLevel .. ZSTD_maxCLevel). */
int zck_level_min(void);
int zck_level_max(void);

/* Upper bound of one compressed frame for src_size input bytes
 * (ZSTD_compressBound); 0 if src_size is too large. */
size_t zck_compress_bound(size_t src_size);

/* One job = one standalone zstd frame (checksum on, content size written).
 * The frame bytes depend only on src and the level. */
typedef struct {
    const uint8_t *src;
    size_t src_size;       /* 0 is allowed: produces a valid empty frame */
    uint8_t *dst;
    size_t dst_capacity;   /* zck_compress_bound(src_size) always suffices */
    size_t dst_size;       /* out: frame size */
    int error;             /* out: ZCK_OK or an error code */
} zck_job;

typedef struct zck_pool zck_pool;

/* nthreads == 0: no worker threads; jobs run in the caller's thread inside
 * zck_pool_wait.  Returns NULL and sets *err (ZCK_E_NOMEM, ZCK_E_THREAD,
 * ZCK_E_LEVEL, ZCK_E_ZSTD) on failure; err may be NULL. */
zck_pool *zck_pool_new(unsigned nthreads, int level, int *err);
/* Waits for a batch in flight, stops and joins the workers.  NULL is fine. */
void zck_pool_free(zck_pool *p);
size_t zck_pool_sizeof(const zck_pool *p);
unsigned zck_pool_threads(const zck_pool *p);
/* Start compressing jobs[0..n) and return at once.  jobs and every buffer
 * they point to must stay valid until zck_pool_wait returns.  n == 0 is
 * allowed.  Errors: ZCK_E_BUSY (previous batch not yet waited for),
 * ZCK_E_INVALID_ARGUMENT. */
int zck_pool_submit(zck_pool *p, zck_job *jobs, size_t n);
/* Block until the submitted batch is done.  Returns the error of the first
 * failed job (lowest index), or ZCK_OK; ZCK_E_NOT_SUBMITTED without a batch.
 * Safe to call from another thread than submit. */
int zck_pool_wait(zck_pool *p);

/* zck_pool_wait, except that the calling thread also runs jobs of the batch
 * (with its own compression context) while any are left to hand out, instead
 * of only sleeping: a batch then uses nthreads + 1 threads.  Only one caller
 * runs jobs at a time; output is the same as with zck_pool_wait. */
int zck_pool_wait_assist(zck_pool *p);

/* One-shot compression with the pool's parameters (same bytes as a pool job).
 * Errors: ZCK_E_LEVEL, ZCK_E_DST_TOO_SMALL, ZCK_E_NOMEM, ZCK_E_ZSTD. */
int zck_compress_frame(int level, const uint8_t *src, size_t src_size,
                       uint8_t *dst, size_t dst_capacity, size_t *dst_size);

/* Streaming compressor for frames too large to hold at once.  Same
 * parameters (checksum on); the frame has no content size field.  The output
 * depends only on the concatenated input, not on how it is split. */
typedef struct zck_cstream zck_cstream;

zck_cstream *zck_cstream_new(int level, int *err);
void zck_cstream_free(zck_cstream *cs);
size_t zck_cstream_sizeof(const zck_cstream *cs);
/* Compress src[0..len).  With end_frame != 0 the frame is finished once all of
 * src is consumed.  Output goes to dst[0..*written).  Call again (with the
 * unconsumed rest, same end_frame) while *consumed < len, or, with end_frame,
 * until *done is 1.  The next call after a finished frame starts a new frame.
 * Errors: ZCK_E_INVALID_ARGUMENT, ZCK_E_NOMEM, ZCK_E_ZSTD. */
int zck_cstream_compress(zck_cstream *cs, const uint8_t *src, size_t len, int end_frame,
                         uint8_t *dst, size_t cap, size_t *written, size_t *consumed, int *done);
/* Buffer size that always lets one call make progress (ZSTD_CStreamOutSize). */
size_t zck_cstream_out_size(void);

/* ------------------------------------------------------------ payload jobs */

/* A payload job does all the per-byte work of one tar entry's payload on a
 * pool worker, or compresses one plain frame (typically a run of tar headers).
 * Submit an array of them with zck_pool_submit_pjobs and collect them with
 * zck_pool_wait(_assist), under the same rules as zck_job batches.  Every frame has
 * the pool's parameters, and its bytes depend only on its input, the level
 * and oneshot_max, never on the thread count or the rest of the batch. */
enum zck_pjob_flags {
    ZCK_PJOB_PLAIN = 0, /* src becomes one frame; no hashing, no chunk records */
    ZCK_PJOB_FILE = 1   /* src is a whole file payload: chunk it, hash it, one frame per chunk */
};

/* One chunk of a FILE job.  It starts where the previous one ended (0 for the
 * first) and ends at `end`; its frame follows the previous chunk's in dst. */
typedef struct {
    uint64_t end;          /* end offset in the file, exclusive */
    uint32_t zeros;        /* 1 for a hole (a run of >= 1024 zero bytes), else 0 */
    uint32_t reserved;     /* written as 0 */
    uint64_t frame_size;   /* bytes of this chunk's frame in dst */
    uint8_t sha256[32];    /* SHA-256 of the chunk's bytes; all zero when the file is a single chunk */
} zck_chunk_out;

typedef struct {
    /* in */
    const uint8_t *src;
    size_t src_size;
    uint32_t flags;            /* ZCK_PJOB_PLAIN or ZCK_PJOB_FILE */
    uint32_t reserved;         /* must be 0 */
    size_t oneshot_max;        /* a frame with more input bytes than this is made as zck_cstream would
                                * make it (no content size); 0: every frame is one-shot, i.e. exactly
                                * zck_compress_frame's bytes */
    uint8_t *dst;              /* frames, back to back */
    size_t dst_capacity;       /* zck_pjob_dst_bound(src_size, chunks_cap) always suffices */
    zck_chunk_out *chunks;     /* FILE: one record per chunk (may be NULL when chunks_cap == 0) */
    size_t chunks_cap;
    /* out (reset by submit) */
    size_t dst_size;           /* bytes of frames in dst */
    size_t n_chunks;           /* FILE: records written; after ZCK_E_CAPACITY, the number the payload needs */
    uint64_t crc64;            /* FILE: zck_crc64_update(0, src, src_size) */
    uint8_t sha256[32];        /* FILE: SHA-256 of the payload (of "" for an empty one) */
    int error;                 /* ZCK_OK or an error code */
} zck_pjob;

/* FILE jobs cut the payload with the chunker's rules (fresh state: exactly
 * what zck_chunker_new + feed of the whole payload + at_eof gives) and
 * compress each chunk, holes included, as its own frame.  An empty payload
 * has no chunks and no frames.  The chunk digests are only computed when
 * there are two or more chunks.
 *
 * Job errors: ZCK_E_INVALID_ARGUMENT (NULL with a non-zero size, unknown
 * flags, reserved != 0), ZCK_E_CAPACITY (FILE: more chunks than chunks_cap or
 * frames larger than dst_capacity; the chunker still runs to the end so that
 * n_chunks tells how many chunks there are, and a retry with chunks_cap >=
 * n_chunks and dst_capacity >= zck_pjob_dst_bound(src_size, n_chunks)
 * succeeds), ZCK_E_DST_TOO_SMALL (PLAIN: as zck_job), ZCK_E_NOMEM, ZCK_E_ZSTD.
 * dst_size, crc64 and sha256 are 0 after an error. */

/* dst capacity that always holds the frames of a job with src_size input bytes
 * and at most chunks_cap chunks (PLAIN: pass 0); 0 if that would overflow. */
size_t zck_pjob_dst_bound(size_t src_size, size_t chunks_cap);
/* A chunks_cap that fits nearly every real payload of src_size bytes
 * (src_size / 4096 + 16; the rolling sum cuts about every 64 KiB); payloads
 * that need more fail with ZCK_E_CAPACITY and report the count they need. */
size_t zck_pjob_chunks_hint(size_t src_size);

/* Start running jobs[0..n) on the pool and return at once; collect them with
 * zck_pool_wait or zck_pool_wait_assist (which return the error of the
 * lowest-indexed failed job).
 * Same rules as zck_pool_submit: one batch in flight, jobs and buffers valid
 * until zck_pool_wait returns, n == 0 allowed.  Workers take the jobs largest
 * src_size first (ties in index order), so a big file is not left for last;
 * results only ever go to each job's own slots.  Errors: ZCK_E_BUSY,
 * ZCK_E_INVALID_ARGUMENT, ZCK_E_NOMEM (scheduling array). */
int zck_pool_submit_pjobs(zck_pool *p, zck_pjob *jobs, size_t n);

/* ---------------------------------------------------- batch decompression */

enum zck_djob_checks {
    ZCK_CHECK_SHA256 = 1,      /* after decoding, SHA-256 of dst must equal sha256 */
    ZCK_CHECK_CRC64 = 2,       /* after decoding, zck_crc64_update(0, dst) must equal crc64 */
    ZCK_CHECK_ONLY = 4,        /* dst already holds the bytes: no decoding (src must be NULL, 0) */
    ZCK_CHECK_EXACT = 8        /* src must hold exactly dst_size bytes: the frames after the last
                                * byte must be empty or skippable, and src must end on a frame
                                * boundary (else ZCK_E_EXTRA_DATA, ZCK_E_DATA_TRUNCATED) */
};

typedef struct {
    const uint8_t *src;    /* zstd and/or skippable frames; may hold more than needed */
    size_t src_size;
    uint8_t *dst;
    size_t dst_size;       /* exact number of bytes expected */
    uint32_t checks;       /* in: 0 or a mix of enum zck_djob_checks */
    uint32_t reserved;     /* in: must be 0 */
    uint64_t crc64;        /* in: expected CRC-64 (ZCK_CHECK_CRC64) */
    uint8_t sha256[32];    /* in: expected SHA-256 (ZCK_CHECK_SHA256) */
    size_t produced;       /* out: bytes written to dst */
    int error;             /* out: ZCK_OK or an error code */
} zck_djob;

/* Decompress every job; stops each job once dst_size bytes are produced and
 * ignores the rest of its src.  Window size is capped at 2^27 bytes.  nthreads 0 or 1 runs in the caller's thread.  Returns the
 * error of the first failed job (lowest index) or ZCK_OK.
 * The checks run on the worker right after a job's bytes are produced (while
 * they are still in cache); a CHECK_ONLY job only checks dst, so a second
 * batch can check a whole file whose chunks the first batch decoded.
 * Job errors: ZCK_E_DATA_TRUNCATED, ZCK_E_CORRUPT, ZCK_E_CHECKSUM,
 * ZCK_E_WINDOW_TOO_LARGE, ZCK_E_NOT_ZSTD, ZCK_E_NOMEM, ZCK_E_ZSTD,
 * ZCK_E_SHA256_MISMATCH, ZCK_E_CRC64_MISMATCH, ZCK_E_EXTRA_DATA (EXACT),
 * ZCK_E_INVALID_ARGUMENT (unknown checks bits, reserved != 0, CHECK_ONLY
 * with a src). */
int zck_decompress_batch(unsigned nthreads, zck_djob *jobs, size_t n);
/* Same with an explicit window cap: windowlog_max in 10..31 (0 selects 27). */
int zck_decompress_batch_ex(unsigned nthreads, unsigned windowlog_max, zck_djob *jobs, size_t n);

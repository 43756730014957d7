/* Many SHA-256 digests in one call: the ledger's leaf and node hashing without a Python
 * call per hash.
 *
 * The SHA-256 itself is OpenSSL's libcrypto, the same library Python's hashlib uses (it is
 * opened at import, so no OpenSSL headers are needed to build this module, and no second
 * SHA-256 implementation exists). The GIL is released while hashing.
 *
 *   leaf_hashes(prefix, stream) -> bytes
 *       `stream` is events' canonical leaf bytes (docmgmt/ledger/leaf.py) after the tag and
 *       version, one after another: position (8 bytes), aggregate id (16), version (8),
 *       topic size (4, big-endian) and topic, state size (8, big-endian) and state. Returns
 *       SHA-256(prefix || leaf) of each, concatenated; ValueError if the stream does not
 *       split into whole leaves.
 *   node_level(level) -> bytes
 *       For 32-byte hashes h0 h1 h2 h3 ..., SHA-256(0x01 || h0 || h1),
 *       SHA-256(0x01 || h2 || h3), ... (RFC 9162 interior nodes; an odd last hash has no
 *       pair and no node at this level).
 *   bind_libpq(path) -> int
 *       Opens the libpq at `path` (the one psycopg itself loaded) for pq_leaf_hashes;
 *       returns its PQlibVersion().
 *   pq_leaf_hashes(pgconn, sql, params, prefix, head) -> (count, done, last, leaves) | None
 *       Runs `sql` (text parameters, binary results) on the PGconn* at address `pgconn`,
 *       a connection of psycopg's that the caller holds and that is idle, and hashes each
 *       row (position int8, aggregate id uuid, version int8, topic text, state bytea) as
 *       a canonical leaf after `prefix`, all without the GIL, as the rows arrive (256 at
 *       a time where libpq has chunked rows mode, 17 and later). `done` counts the rows at
 *       positions up to `head`, `last` is the last row's position; None if a topic or a
 *       state is NULL; ValueError if the columns are not of that shape; RuntimeError with
 *       the server's message if the query fails.
 *
 * docmgmt/ledger/bulkhash.py holds the pure-Python definitions the tests compare with.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DIGEST 32
/* Position, aggregate id and version: the fixed part of a leaf before the topic's size. */
#define FIXED (8 + 16 + 8)

/* SHA256_CTX is 112 bytes in OpenSSL 1.1 and 3.x; the context here is kept larger and
 * aligned, and only ever handled by libcrypto. */
typedef struct { _Alignas(16) unsigned char opaque[256]; } sha_ctx;
typedef int (*init_fn)(sha_ctx *);
typedef int (*update_fn)(sha_ctx *, const void *, size_t);
typedef int (*final_fn)(unsigned char *, sha_ctx *);

static init_fn sha_init;
static update_fn sha_update;
static final_fn sha_final;

static int load_libcrypto(void) {
    static const char *names[] = {"libcrypto.so.3", "libcrypto.so.1.1", "libcrypto.so",
                                  "libcrypto.3.dylib", "libcrypto.dylib", NULL};
    for (const char **name = names; *name; name++) {
        void *lib = dlopen(*name, RTLD_NOW | RTLD_LOCAL);
        if (!lib) continue;
        sha_init = (init_fn)dlsym(lib, "SHA256_Init");
        sha_update = (update_fn)dlsym(lib, "SHA256_Update");
        sha_final = (final_fn)dlsym(lib, "SHA256_Final");
        if (sha_init && sha_update && sha_final) return 0;
        dlclose(lib);
    }
    PyErr_SetString(PyExc_ImportError,
                    "docmgmt.ledger._bulkhash: no libcrypto with SHA256_Init/Update/Final");
    return -1;
}

static int sha256(const unsigned char *data, size_t size, unsigned char *out) {
    sha_ctx ctx;
    return sha_init(&ctx) == 1 && sha_update(&ctx, data, size) == 1
           && sha_final(out, &ctx) == 1;
}

static uint64_t be(const unsigned char *p, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v = v << 8 | p[i];
    return v;
}

/* The size of the leaf starting at `at`, or 0 if fewer than `remaining` bytes hold one. */
static uint64_t leaf_size(const unsigned char *at, uint64_t remaining) {
    if (remaining < FIXED + 4) return 0;
    uint64_t topic = be(at + FIXED, 4);
    if (remaining - FIXED - 4 < topic + 8) return 0;
    uint64_t state = be(at + FIXED + 4 + topic, 8);
    if (remaining - FIXED - 12 - topic < state) return 0;
    return FIXED + 12 + topic + state;
}

static PyObject *leaf_hashes(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer prefix, stream;
    if (!PyArg_ParseTuple(args, "y*y*:leaf_hashes", &prefix, &stream)) return NULL;
    PyObject *result = NULL;
    const unsigned char *start = stream.buf;
    uint64_t total = (uint64_t)stream.len, offset = 0;
    Py_ssize_t count = 0;
    while (offset < total) {
        uint64_t size = leaf_size(start + offset, total - offset);
        if (!size) {
            PyErr_Format(PyExc_ValueError, "leaf %zd (at byte %llu) is cut short", count,
                         (unsigned long long)offset);
            goto done;
        }
        offset += size;
        count++;
    }
    result = PyBytes_FromStringAndSize(NULL, count * DIGEST);
    if (!result) goto done;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    int ok = 1;
    Py_BEGIN_ALLOW_THREADS
    offset = 0;
    for (Py_ssize_t i = 0; i < count && ok; i++, out += DIGEST) {
        uint64_t size = leaf_size(start + offset, total - offset);
        sha_ctx ctx;
        ok = sha_init(&ctx) == 1 && sha_update(&ctx, prefix.buf, (size_t)prefix.len) == 1
             && sha_update(&ctx, start + offset, (size_t)size) == 1
             && sha_final(out, &ctx) == 1;
        offset += size;
    }
    Py_END_ALLOW_THREADS
    if (!ok) {
        Py_CLEAR(result);
        PyErr_SetString(PyExc_RuntimeError, "libcrypto's SHA-256 failed");
    }
done:
    PyBuffer_Release(&prefix);
    PyBuffer_Release(&stream);
    return result;
}

static PyObject *node_level(PyObject *self, PyObject *arg) {
    (void)self;
    Py_buffer level;
    if (PyObject_GetBuffer(arg, &level, PyBUF_SIMPLE) < 0) return NULL;
    PyObject *result = NULL;
    if (level.len % DIGEST) {
        PyErr_SetString(PyExc_ValueError, "hashes must be 32 bytes each");
        goto done;
    }
    Py_ssize_t pairs = level.len / (2 * DIGEST);
    result = PyBytes_FromStringAndSize(NULL, pairs * DIGEST);
    if (!result) goto done;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    const unsigned char *in = level.buf;
    int ok = 1;
    Py_BEGIN_ALLOW_THREADS
    unsigned char node[1 + 2 * DIGEST];
    node[0] = 0x01;
    for (Py_ssize_t i = 0; i < pairs && ok; i++, in += 2 * DIGEST, out += DIGEST) {
        memcpy(node + 1, in, 2 * DIGEST);
        ok = sha256(node, sizeof node, out);
    }
    Py_END_ALLOW_THREADS
    if (!ok) {
        Py_CLEAR(result);
        PyErr_SetString(PyExc_RuntimeError, "libcrypto's SHA-256 failed");
    }
done:
    PyBuffer_Release(&level);
    return result;
}

/* libpq, declared here (no libpq headers needed): only what pq_leaf_hashes uses. */
typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;
#define PGRES_TUPLES_OK 2
#define PGRES_TUPLES_CHUNK 12
#define ROWS_PER_RESULT 256
static struct {
    int (*sendQueryParams)(PGconn *, const char *, int, const unsigned int *,
                           const char *const *, const int *, const int *, int);
    PGresult *(*getResult)(PGconn *);
    int (*resultStatus)(const PGresult *);
    char *(*resultErrorMessage)(const PGresult *);
    char *(*errorMessage)(const PGconn *);
    int (*ntuples)(const PGresult *);
    int (*nfields)(const PGresult *);
    int (*fformat)(const PGresult *, int);
    char *(*getvalue)(const PGresult *, int, int);
    int (*getlength)(const PGresult *, int, int);
    int (*getisnull)(const PGresult *, int, int);
    void (*clear)(PGresult *);
    int (*libVersion)(void);
    int (*setChunkedRowsMode)(PGconn *, int); /* libpq 17 and later, else NULL */
} pq;

static PyObject *bind_libpq(PyObject *self, PyObject *arg) {
    (void)self;
    const char *path = PyUnicode_AsUTF8(arg);
    if (!path) return NULL;
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        PyErr_Format(PyExc_OSError, "cannot open %s: %s", path, dlerror());
        return NULL;
    }
    struct { const char *name; void **slot; } symbols[] = {
        {"PQsendQueryParams", (void **)&pq.sendQueryParams},
        {"PQgetResult", (void **)&pq.getResult},
        {"PQresultStatus", (void **)&pq.resultStatus},
        {"PQresultErrorMessage", (void **)&pq.resultErrorMessage},
        {"PQerrorMessage", (void **)&pq.errorMessage},
        {"PQntuples", (void **)&pq.ntuples},
        {"PQnfields", (void **)&pq.nfields},
        {"PQfformat", (void **)&pq.fformat},
        {"PQgetvalue", (void **)&pq.getvalue},
        {"PQgetlength", (void **)&pq.getlength},
        {"PQgetisnull", (void **)&pq.getisnull},
        {"PQclear", (void **)&pq.clear},
        {"PQlibVersion", (void **)&pq.libVersion},
    };
    for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
        *symbols[i].slot = dlsym(lib, symbols[i].name);
        if (!*symbols[i].slot) {
            pq.libVersion = NULL;
            PyErr_Format(PyExc_OSError, "%s has no %s", path, symbols[i].name);
            return NULL;
        }
    }
    pq.setChunkedRowsMode = dlsym(lib, "PQsetChunkedRowsMode");
    return PyLong_FromLong(pq.libVersion());
}

/* Why the rows of `res` cannot be hashed as leaves, or NULL if they can; *unhashable is
 * set when a topic or a state is NULL. */
static const char *check_rows(const PGresult *res, int rows, int *unhashable) {
    static const int fixed[] = {8, 16, 8};
    if (pq.nfields(res) != 5) return "the query must return 5 columns";
    for (int c = 0; c < 5; c++)
        if (pq.fformat(res, c) != 1) return "the rows must be in binary format";
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < 3; c++)
            if (pq.getisnull(res, r, c) || pq.getlength(res, r, c) != fixed[c])
                return "position, aggregate id and version must be int8, uuid and int8";
        if (pq.getisnull(res, r, 3) || pq.getisnull(res, r, 4)) *unhashable = 1;
    }
    return NULL;
}

/* SHA-256(prefix || canonical leaf of row r) into out. */
static int hash_row(const PGresult *res, int r, const unsigned char *prefix,
                    size_t prefix_len, unsigned char *out) {
    unsigned char head[64 + FIXED + 4 + 256 + 8];
    size_t topic = (size_t)pq.getlength(res, r, 3);
    size_t state = (size_t)pq.getlength(res, r, 4);
    size_t n = prefix_len;
    memcpy(head, prefix, prefix_len);
    memcpy(head + n, pq.getvalue(res, r, 0), 8);
    memcpy(head + n + 8, pq.getvalue(res, r, 1), 16);
    memcpy(head + n + 24, pq.getvalue(res, r, 2), 8);
    n += FIXED;
    for (int i = 0; i < 4; i++) head[n++] = (unsigned char)(topic >> (8 * (3 - i)));
    sha_ctx ctx;
    int ok = sha_init(&ctx) == 1;
    if (topic <= 256) {
        memcpy(head + n, pq.getvalue(res, r, 3), topic);
        n += topic;
    } else {
        ok = ok && sha_update(&ctx, head, n) == 1
             && sha_update(&ctx, pq.getvalue(res, r, 3), topic) == 1;
        n = 0;
    }
    for (int i = 0; i < 8; i++) head[n++] = (unsigned char)((uint64_t)state >> (8 * (7 - i)));
    return ok && sha_update(&ctx, head, n) == 1
           && sha_update(&ctx, pq.getvalue(res, r, 4), state) == 1
           && sha_final(out, &ctx) == 1;
}

/* What pq_leaf_hashes gathers while the GIL is released. */
typedef struct {
    unsigned char *leaves; /* malloc'd, 32 bytes a row */
    size_t rows, capacity, done;
    long long last, head;
    const unsigned char *prefix;
    size_t prefix_len;
    char *failure;     /* malloc'd copy of libpq's message */
    const char *shape; /* why the rows are not of the expected shape */
    int unhashable;    /* a topic or a state is NULL */
} gathered;

/* Hash the rows of one result into g; 0 if memory or libcrypto failed. */
static int gather(gathered *g, const PGresult *res) {
    int rows = pq.ntuples(res);
    if ((g->shape = check_rows(res, rows, &g->unhashable)) || g->unhashable) return 1;
    if (g->rows + (size_t)rows > g->capacity) {
        size_t capacity = g->capacity ? g->capacity : 1024;
        while (capacity < g->rows + (size_t)rows) capacity *= 2;
        unsigned char *grown = realloc(g->leaves, capacity * DIGEST);
        if (!grown) return 0;
        g->leaves = grown;
        g->capacity = capacity;
    }
    for (int r = 0; r < rows; r++, g->rows++) {
        long long position = (long long)be((const unsigned char *)pq.getvalue(res, r, 0), 8);
        if (position <= g->head) g->done++;
        g->last = position;
        if (!hash_row(res, r, g->prefix, g->prefix_len, g->leaves + g->rows * DIGEST))
            return 0;
    }
    return 1;
}

static PyObject *pq_leaf_hashes(PyObject *self, PyObject *args) {
    (void)self;
    unsigned long long address;
    const char *sql;
    PyObject *params;
    Py_buffer prefix;
    gathered g = {0};
    if (!PyArg_ParseTuple(args, "KyO!y*L:pq_leaf_hashes", &address, &sql, &PyTuple_Type,
                          &params, &prefix, &g.head))
        return NULL;
    PyObject *result = NULL;
    PGconn *conn = (PGconn *)(uintptr_t)address;
    const char *values[8];
    Py_ssize_t nparams = PyTuple_GET_SIZE(params);
    if (!pq.libVersion) {
        PyErr_SetString(PyExc_RuntimeError, "bind_libpq has not been called");
        goto done;
    }
    if (prefix.len > 64 || nparams > 8) {
        PyErr_SetString(PyExc_ValueError, "at most 64 prefix bytes and 8 parameters");
        goto done;
    }
    for (Py_ssize_t i = 0; i < nparams; i++)
        if (!(values[i] = PyBytes_AsString(PyTuple_GET_ITEM(params, i)))) goto done;
    g.prefix = prefix.buf;
    g.prefix_len = (size_t)prefix.len;
    int ok = 1, results = 0;
    Py_BEGIN_ALLOW_THREADS
    if (!pq.sendQueryParams(conn, sql, (int)nparams, NULL, values, NULL, NULL, 1)) {
        g.failure = strdup(pq.errorMessage(conn));
    } else {
        /* Rows hashed as they arrive, a few hundred at a time where libpq can (17+): the
         * memory stays small and warm instead of holding the whole result. */
        if (pq.setChunkedRowsMode) pq.setChunkedRowsMode(conn, ROWS_PER_RESULT);
        PGresult *res;
        while ((res = pq.getResult(conn))) { /* every result, so the connection is idle */
            int status = pq.resultStatus(res);
            if (status == PGRES_TUPLES_OK || status == PGRES_TUPLES_CHUNK) {
                results++;
                if (ok && !g.failure && !g.shape && !g.unhashable) ok = gather(&g, res);
            } else if (!g.failure) {
                g.failure = strdup(pq.resultErrorMessage(res));
            }
            pq.clear(res);
        }
    }
    Py_END_ALLOW_THREADS
    if (g.failure || !results) {
        PyErr_SetString(PyExc_RuntimeError, g.failure ? g.failure : "the query returned no rows");
    } else if (!ok) {
        PyErr_SetString(PyExc_MemoryError, "out of memory or libcrypto's SHA-256 failed");
    } else if (g.shape) {
        PyErr_SetString(PyExc_ValueError, g.shape);
    } else if (g.unhashable) {
        result = Py_NewRef(Py_None);
    } else {
        result = Py_BuildValue("(nnLy#)", (Py_ssize_t)g.rows, (Py_ssize_t)g.done,
                               g.rows ? g.last : 0LL, g.leaves ? (const char *)g.leaves : "",
                               (Py_ssize_t)(g.rows * DIGEST));
    }
    free(g.leaves);
    free(g.failure);
done:
    PyBuffer_Release(&prefix);
    return result;
}

static PyMethodDef methods[] = {
    {"leaf_hashes", leaf_hashes, METH_VARARGS,
     "SHA-256(prefix || leaf) of each version-1 leaf in a stream of them."},
    {"node_level", node_level, METH_O,
     "SHA-256(0x01 || left || right) of each consecutive pair of 32-byte hashes."},
    {"bind_libpq", bind_libpq, METH_O, "Open the libpq that pq_leaf_hashes uses."},
    {"pq_leaf_hashes", pq_leaf_hashes, METH_VARARGS,
     "Run a query on a psycopg connection's PGconn and hash its rows as leaves."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_bulkhash",
    .m_doc = "Many SHA-256 digests per call, through libcrypto (see docmgmt.ledger.bulkhash).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__bulkhash(void) {
    if (load_libcrypto() < 0) return NULL;
    return PyModule_Create(&module);
}

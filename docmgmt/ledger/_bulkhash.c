/* Many SHA-256 digests in one call: the ledger's leaf and node hashing without a Python
 * call per hash, through OpenSSL's EVP interface (linked at build time), GIL released.
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
 *
 * docmgmt/ledger/bulkhash.py holds the pure-Python definitions the tests compare with.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

#define DIGEST 32
/* Position, aggregate id and version: the fixed part of a leaf before the topic's size. */
#define FIXED (8 + 16 + 8)

/* Fetched once: an implicit fetch on every EVP_DigestInit_ex costs a lookup per hash. */
static EVP_MD *sha256_md;

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

/* SHA-256 of the concatenation of two buffers into out, on a reused context. */
static int digest2(EVP_MD_CTX *ctx, const void *a, size_t a_len, const void *b,
                   size_t b_len, unsigned char *out) {
    return EVP_DigestInit_ex(ctx, sha256_md, NULL) == 1
           && EVP_DigestUpdate(ctx, a, a_len) == 1 && EVP_DigestUpdate(ctx, b, b_len) == 1
           && EVP_DigestFinal_ex(ctx, out, NULL) == 1;
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
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ok = ctx != NULL;
    offset = 0;
    for (Py_ssize_t i = 0; i < count && ok; i++, out += DIGEST) {
        uint64_t size = leaf_size(start + offset, total - offset);
        ok = digest2(ctx, prefix.buf, (size_t)prefix.len, start + offset, (size_t)size, out);
        offset += size;
    }
    EVP_MD_CTX_free(ctx);
    Py_END_ALLOW_THREADS
    if (!ok) {
        Py_CLEAR(result);
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL's SHA-256 failed");
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
    static const unsigned char node_prefix = 0x01;
    int ok = 1;
    Py_BEGIN_ALLOW_THREADS
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ok = ctx != NULL;
    for (Py_ssize_t i = 0; i < pairs && ok; i++, in += 2 * DIGEST, out += DIGEST)
        ok = digest2(ctx, &node_prefix, 1, in, 2 * DIGEST, out);
    EVP_MD_CTX_free(ctx);
    Py_END_ALLOW_THREADS
    if (!ok) {
        Py_CLEAR(result);
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL's SHA-256 failed");
    }
done:
    PyBuffer_Release(&level);
    return result;
}

static PyMethodDef methods[] = {
    {"leaf_hashes", leaf_hashes, METH_VARARGS,
     "SHA-256(prefix || leaf) of each version-1 leaf in a stream of them."},
    {"node_level", node_level, METH_O,
     "SHA-256(0x01 || left || right) of each consecutive pair of 32-byte hashes."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_bulkhash",
    .m_doc = "Many SHA-256 digests per call, through OpenSSL (see docmgmt.ledger.bulkhash).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__bulkhash(void) {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
#else
    sha256_md = (EVP_MD *)EVP_sha256();
#endif
    if (!sha256_md) {
        PyErr_SetString(PyExc_ImportError, "docmgmt.ledger._bulkhash: OpenSSL has no SHA-256");
        return NULL;
    }
    return PyModule_Create(&module);
}

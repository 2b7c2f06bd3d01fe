/* The synthetic clients' packet path (synthetic.py's lean peers), in C.
 *
 * The capacity benchmarks run their clients on the cores the media server uses: every
 * microsecond a client spends is one the server does not get, and a second media process
 * can only show what it adds if the clients cost far less than the server per room. In
 * Python the lean peers cost about as much as the server (building each packet, pylibsrtp
 * through cffi, the event loop's sendto; a Python call for every packet received). Here:
 *
 * - LeanStream: one outgoing stream of pre-built packets (synthetic._LeanStream's frames):
 *   per packet the header's marker, sequence number, timestamp and SSRC, the frame's
 *   abs-send-time, the VP8 picture ID and the frame's send time after its last packet's
 *   data are written into a buffer, which a Sink (_sendpath.c) SRTP-protects with the
 *   peer's own DTLS-SRTP keys and sends on the ICE pair aioice nominated.
 * - RtpCount: a peer's received RTP counted from the header SRTP leaves in the clear
 *   (RFC 3711: marker bit, sequence number, SSRC), per SSRC, read off the socket with
 *   recvmmsg(2) in batches; what is not RTP (STUN, DTLS, RTCP) goes back to Python for
 *   aioice and aiortc.
 *
 * What reaches the server is what the Python stream sent: tests/media/test_lean_c.py
 * parses every packet with aiortc and compares it field by field.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <math.h>
#include <time.h>

#include "_sendpath.h"

/* ---- LeanStream ----------------------------------------------------------------------- */

#define NTP_OFFSET 2208988800.0
#define STAMP_SIZE 12 /* synthetic.STAMP: "!4sd", the mark and the send time */
#define PACKET_MAX 4096

typedef struct {
    PyObject_HEAD
    PyObject *header;  /* bytes: the header with its extensions, made by aiortc */
    PyObject *frames;  /* tuple of tuples of bytes: each frame's RTP payloads */
    Py_ssize_t send_time_at; /* where the 3-byte abs-send-time is in the header; -1: none */
    int payload_type;
    int vp8;
    unsigned int sequence, timestamp, ssrc, picture_id;
    unsigned long long index;
    char keyframe_next; /* (T_BOOL: a char) */
} LeanStream;

static void
LeanStream_dealloc(LeanStream *self)
{
    Py_CLEAR(self->header);
    Py_CLEAR(self->frames);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
LeanStream_init(LeanStream *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"header", "send_time_at", "payload_type", "frames", "vp8",
                               "sequence", "timestamp", "ssrc", NULL};
    PyObject *header, *frames;
    Py_ssize_t send_time_at;
    int payload_type, vp8;
    unsigned int sequence, timestamp, ssrc;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "SniOpIII", keywords, &header,
                                     &send_time_at, &payload_type, &frames, &vp8, &sequence,
                                     &timestamp, &ssrc))
        return -1;
    if (self->frames != NULL) {
        /* (a second __init__ would free the frame a send in progress is reading) */
        PyErr_SetString(PyExc_RuntimeError, "set up once only");
        return -1;
    }
    Py_ssize_t header_size = PyBytes_GET_SIZE(header);
    if (header_size < 12 || header_size > 256 || payload_type < 0 || payload_type > 127 ||
        send_time_at < -1 || (send_time_at >= 0 && send_time_at + 3 > header_size)) {
        PyErr_SetString(PyExc_ValueError, "bad header, send time place or payload type");
        return -1;
    }
    PyObject *given = PySequence_Tuple(frames);
    if (given == NULL)
        return -1;
    Py_ssize_t count = PyTuple_GET_SIZE(given);
    PyObject *copied = count ? PyTuple_New(count) : NULL;
    if (copied == NULL) {
        Py_DECREF(given);
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "no frames");
        return -1;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *payloads = PySequence_Tuple(PyTuple_GET_ITEM(given, i));
        if (payloads == NULL) {
            Py_DECREF(copied);
            Py_DECREF(given);
            return -1;
        }
        PyTuple_SET_ITEM(copied, i, payloads); /* (the new tuple owns it now) */
        Py_ssize_t n = PyTuple_GET_SIZE(payloads);
        int bad = n == 0;
        for (Py_ssize_t j = 0; j < n && !bad; j++) {
            PyObject *payload = PyTuple_GET_ITEM(payloads, j);
            bad = !PyBytes_Check(payload) ||
                  header_size + PyBytes_GET_SIZE(payload) + STAMP_SIZE > PACKET_MAX;
        }
        if (bad) {
            Py_DECREF(copied);
            Py_DECREF(given);
            PyErr_SetString(PyExc_ValueError,
                            "a frame without payloads, or one not bytes or too long");
            return -1;
        }
    }
    Py_DECREF(given);
    Py_XSETREF(self->header, Py_NewRef(header));
    Py_XSETREF(self->frames, copied);
    self->send_time_at = send_time_at;
    self->payload_type = payload_type;
    self->vp8 = vp8;
    self->sequence = sequence & 0xFFFF;
    self->timestamp = timestamp;
    self->ssrc = ssrc;
    self->picture_id = 0;
    self->index = 0;
    self->keyframe_next = 0;
    return 0;
}

static void
put16(unsigned char *p, unsigned int v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void
put32(unsigned char *p, unsigned int v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* The next frame's payloads (a borrowed tuple), and the stream moved on to it. */
static PyObject *
next_payloads(LeanStream *self)
{
    if (self->keyframe_next) { /* the clip's first frame is its keyframe; on from there */
        self->index = 0;
        self->keyframe_next = 0;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(self->frames);
    PyObject *payloads = PyTuple_GET_ITEM(self->frames, (Py_ssize_t)(self->index % count));
    self->index++;
    return payloads;
}

/* Packet ``number`` of a frame with ``last`` + 1 payloads into ``out``: its length. */
static Py_ssize_t
build_packet(LeanStream *self, unsigned char *out, PyObject *payload, Py_ssize_t number,
             Py_ssize_t last, unsigned int send_time, double now)
{
    Py_ssize_t header_size = PyBytes_GET_SIZE(self->header);
    memcpy(out, PyBytes_AS_STRING(self->header), (size_t)header_size);
    if (self->send_time_at >= 0) {
        unsigned char *at = out + self->send_time_at;
        at[0] = (unsigned char)(send_time >> 16);
        at[1] = (unsigned char)(send_time >> 8);
        at[2] = (unsigned char)send_time;
    }
    int marker = number == last;
    out[1] = (unsigned char)((marker ? 0x80 : 0) | self->payload_type);
    put16(out + 2, self->sequence);
    put32(out + 4, self->timestamp);
    put32(out + 8, self->ssrc);
    self->sequence = (self->sequence + 1) & 0xFFFF;
    const unsigned char *data = (const unsigned char *)PyBytes_AS_STRING(payload);
    Py_ssize_t size = PyBytes_GET_SIZE(payload);
    unsigned char *p = out + header_size;
    if (!self->vp8) {
        memcpy(p, data, (size_t)size);
        return header_size + size;
    }
    /* VP8 payload descriptor with a 15-bit picture ID (aiortc's layout) */
    Py_ssize_t head = size < 2 ? size : 2;
    memcpy(p, data, (size_t)head);
    p += head;
    put16(p, 0x8000 | self->picture_id);
    p += 2;
    if (size > 4) {
        memcpy(p, data + 4, (size_t)(size - 4));
        p += size - 4;
    }
    if (marker) { /* the frame's send time after its data */
        memcpy(p, "VMTS", 4);
        uint64_t bits;
        memcpy(&bits, &now, sizeof(bits));
        for (int i = 0; i < 8; i++)
            p[4 + i] = (unsigned char)(bits >> (56 - 8 * i));
        p += STAMP_SIZE;
    }
    return p - out;
}

/* The next frame: each packet built and given to ``emit`` (-1: stop with the error set). */
static int
each_packet(LeanStream *self, unsigned int step, double now,
            int (*emit)(void *, const unsigned char *, Py_ssize_t), void *target)
{
    PyObject *payloads = next_payloads(self);
    unsigned int send_time = (unsigned int)((unsigned long long)((now + NTP_OFFSET) * 262144.0) &
                                            0xFFFFFF); /* 2**18: 6.18 fixed point */
    Py_ssize_t last = PyTuple_GET_SIZE(payloads) - 1;
    unsigned char packet[PACKET_MAX];
    int status = 0;
    for (Py_ssize_t number = 0; number <= last; number++) {
        Py_ssize_t length = build_packet(self, packet, PyTuple_GET_ITEM(payloads, number),
                                         number, last, send_time, now);
        if (status >= 0 && emit(target, packet, length) < 0)
            status = -1; /* the rest of the frame still moves the sequence on */
    }
    if (self->vp8)
        self->picture_id = (self->picture_id + 1) & 0x7FFF;
    self->timestamp += step;
    return status;
}

static int
emit_to_list(void *target, const unsigned char *packet, Py_ssize_t length)
{
    PyObject *data = PyBytes_FromStringAndSize((const char *)packet, length);
    if (data == NULL)
        return -1;
    int status = PyList_Append((PyObject *)target, data);
    Py_DECREF(data);
    return status;
}

typedef struct {
    PyObject *sink;
    long sent;
} SinkTarget;

static int
emit_to_sink(void *target, const unsigned char *packet, Py_ssize_t length)
{
    SinkTarget *to = target;
    int sent = sink_send(to->sink, packet, length);
    if (sent < 0)
        return -1;
    to->sent += sent;
    return 0;
}

static int
parse_step_now(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t first, unsigned int *step,
               double *now)
{
    if (nargs != first + 2) {
        PyErr_SetString(PyExc_TypeError, "wrong number of arguments");
        return -1;
    }
    unsigned long value = PyLong_AsUnsignedLong(args[first]);
    if (value == (unsigned long)-1 && PyErr_Occurred())
        return -1;
    *step = (unsigned int)value;
    *now = PyFloat_AsDouble(args[first + 1]);
    if (*now == -1.0 && PyErr_Occurred())
        return -1;
    if (!isfinite(*now) || *now < 0.0 || *now > 1e12) {
        PyErr_SetString(PyExc_ValueError, "now: a time.time() value");
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(LeanStream_build_doc,
"build(step, now) -> list[bytes]\n\n"
"The next frame's RTP packets (plain), ``step`` clock ticks after the last; ``now``:\n"
"time.time(), the abs-send-time and the send time after a VP8 frame's data.");

static PyObject *
LeanStream_build(LeanStream *self, PyObject *const *args, Py_ssize_t nargs)
{
    unsigned int step;
    double now;
    if (self->frames == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "not set up");
        return NULL;
    }
    if (parse_step_now(args, nargs, 0, &step, &now) < 0)
        return NULL;
    PyObject *packets = PyList_New(0);
    if (packets == NULL)
        return NULL;
    if (each_packet(self, step, now, emit_to_list, packets) < 0) {
        Py_DECREF(packets);
        return NULL;
    }
    return packets;
}

PyDoc_STRVAR(LeanStream_send_doc,
"send(sink, step, now) -> int\n\n"
"build(step, now)'s packets, each SRTP-protected and sent by ``sink`` (a Sink): how many\n"
"the kernel took (0, nothing built: the sink's socket was closed).");

static PyObject *
LeanStream_send(LeanStream *self, PyObject *const *args, Py_ssize_t nargs)
{
    unsigned int step;
    double now;
    if (self->frames == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "not set up");
        return NULL;
    }
    if (parse_step_now(args, nargs, 1, &step, &now) < 0)
        return NULL;
    if (!is_sink(args[0])) {
        PyErr_SetString(PyExc_TypeError, "send(sink, step, now): sink must be a Sink");
        return NULL;
    }
    int open = sink_open(args[0]);
    if (open <= 0)
        return open < 0 ? NULL : PyLong_FromLong(0); /* (closed: nothing built or sent) */
    SinkTarget target = {args[0], 0};
    if (each_packet(self, step, now, emit_to_sink, &target) < 0)
        return NULL;
    return PyLong_FromLong(target.sent);
}

static PyMethodDef LeanStream_methods[] = {
    {"build", (PyCFunction)(void (*)(void))LeanStream_build, METH_FASTCALL,
     LeanStream_build_doc},
    {"send", (PyCFunction)(void (*)(void))LeanStream_send, METH_FASTCALL, LeanStream_send_doc},
    {NULL}};

static PyMemberDef LeanStream_members[] = {
    {"sequence", T_UINT, offsetof(LeanStream, sequence), READONLY, "the next sequence number"},
    {"timestamp", T_UINT, offsetof(LeanStream, timestamp), READONLY, "the next RTP timestamp"},
    {"ssrc", T_UINT, offsetof(LeanStream, ssrc), READONLY, NULL},
    {"picture_id", T_UINT, offsetof(LeanStream, picture_id), READONLY, "the next VP8 picture ID"},
    {"index", T_ULONGLONG, offsetof(LeanStream, index), READONLY, "frames sent"},
    {"keyframe_next", T_BOOL, offsetof(LeanStream, keyframe_next), 0,
     "True: the next frame is the clip's first (its key frame)"},
    {"payload_type", T_INT, offsetof(LeanStream, payload_type), READONLY, NULL},
    {NULL}};

static PyTypeObject LeanStreamType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "prorenata.videomote.media._sendpath.LeanStream",
    .tp_doc = PyDoc_STR(
        "LeanStream(header, send_time_at, payload_type, frames, vp8, sequence, timestamp,\n"
        "ssrc): a synthetic peer's outgoing stream of pre-built packets."),
    .tp_basicsize = sizeof(LeanStream),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)LeanStream_init,
    .tp_dealloc = (destructor)LeanStream_dealloc,
    .tp_methods = LeanStream_methods,
    .tp_members = LeanStream_members,
};

static double
wall_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

/* ---- Pacer --------------------------------------------------------------------------- */

/* One stream's place in the schedule. */
typedef struct {
    PyObject *owner;  /* whose stream (synthetic.LeanMedia): set_sink and remove by it */
    PyObject *stream; /* LeanStream */
    PyObject *sink;   /* Sink, or NULL: not sending (not connected yet, or stopped) */
    double due, interval;
    unsigned int step;
} Due;

typedef struct {
    PyObject_HEAD
    Due *entries;
    Py_ssize_t count, room;
    unsigned long long frames, failures;
    double last_now; /* run's last ``now``: a stream sent again starts from there */
} Pacer;

static int
Pacer_traverse(Pacer *self, visitproc visit, void *arg)
{
    for (Py_ssize_t i = 0; i < self->count; i++) {
        Py_VISIT(self->entries[i].owner);
        Py_VISIT(self->entries[i].stream);
        Py_VISIT(self->entries[i].sink);
    }
    return 0;
}

static int
Pacer_clear(Pacer *self)
{
    /* The array detached before the references go (a finalizer may add or look). */
    Due *entries = self->entries;
    Py_ssize_t count = self->count;
    self->entries = NULL;
    self->count = self->room = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_CLEAR(entries[i].owner);
        Py_CLEAR(entries[i].stream);
        Py_CLEAR(entries[i].sink);
    }
    PyMem_Free(entries);
    return 0;
}

static void
Pacer_dealloc(Pacer *self)
{
    PyObject_GC_UnTrack(self);
    Pacer_clear(self);
    PyMem_Free(self->entries);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

PyDoc_STRVAR(Pacer_add_doc,
"add(owner, stream, step, interval, due)\n\n"
"Send ``stream`` (a LeanStream) one frame every ``interval`` seconds from ``due``\n"
"(time.monotonic()), ``step`` clock ticks apart, once ``owner`` has a sink (set_sink).");

static PyObject *
Pacer_add(Pacer *self, PyObject *args)
{
    PyObject *owner, *stream;
    unsigned int step;
    double interval, due;
    if (!PyArg_ParseTuple(args, "OO!Idd", &owner, &LeanStreamType, &stream, &step, &interval,
                          &due))
        return NULL;
    if (!(interval > 0.0)) {
        PyErr_SetString(PyExc_ValueError, "the interval must be positive");
        return NULL;
    }
    if (self->count == self->room) {
        Py_ssize_t room = self->room ? 2 * self->room : 16;
        Due *entries = PyMem_Realloc(self->entries, (size_t)room * sizeof(Due));
        if (entries == NULL)
            return PyErr_NoMemory();
        self->entries = entries;
        self->room = room;
    }
    Due *entry = &self->entries[self->count++];
    entry->owner = Py_NewRef(owner);
    entry->stream = Py_NewRef(stream);
    entry->sink = NULL;
    entry->due = due;
    entry->interval = interval;
    entry->step = step;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Pacer_set_sink_doc,
"set_sink(owner, sink)\n\n"
"``owner``'s streams are sent by ``sink`` from now on (None: not sent until set again).");

static PyObject *
Pacer_set_sink(Pacer *self, PyObject *args)
{
    PyObject *owner, *sink;
    if (!PyArg_ParseTuple(args, "OO", &owner, &sink))
        return NULL;
    if (sink != Py_None && !is_sink(sink)) {
        PyErr_SetString(PyExc_TypeError, "set_sink(owner, sink): a Sink or None");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < self->count; i++) {
        Due *entry = &self->entries[i];
        if (entry->owner != owner)
            continue;
        if (entry->sink == NULL && sink != Py_None && entry->due < self->last_now)
            entry->due = self->last_now; /* (sent again: no burst of the frames missed) */
        Py_XSETREF(entry->sink, sink == Py_None ? NULL : Py_NewRef(sink));
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Pacer_remove_doc, "remove(owner)\n\nNo more of ``owner``'s streams.");

static PyObject *
Pacer_remove(Pacer *self, PyObject *owner)
{
    /* The array compacted and its count set first, the removed references released after
     * (releasing may run Python: a finalizer, the GC, which traverses the array). */
    Py_ssize_t removed = 0;
    for (Py_ssize_t i = 0; i < self->count; i++)
        removed += self->entries[i].owner == owner;
    if (removed == 0)
        Py_RETURN_NONE;
    Due *gone = PyMem_Malloc((size_t)removed * sizeof(Due));
    if (gone == NULL)
        return PyErr_NoMemory();
    Py_ssize_t kept = 0, out = 0;
    for (Py_ssize_t i = 0; i < self->count; i++) {
        if (self->entries[i].owner == owner)
            gone[out++] = self->entries[i];
        else
            self->entries[kept++] = self->entries[i];
    }
    self->count = kept;
    for (Py_ssize_t i = 0; i < out; i++) {
        Py_DECREF(gone[i].owner);
        Py_DECREF(gone[i].stream);
        Py_XDECREF(gone[i].sink);
    }
    PyMem_Free(gone);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Pacer_run_doc,
"run(now, wall=None) -> float\n\n"
"Send every stream's frame that is due at ``now`` (time.monotonic(); ``wall``: the frames'\n"
"send time, time.time() as each is built when None): one frame per stream and call, later\n"
"ones catch up on the next\n"
"calls. A stream whose send fails stops (``failures``; the error printed as unraisable)\n"
"until set_sink is called for it again. When the next frame is due (inf: nothing to send).");

static PyObject *
Pacer_run(Pacer *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "run(now, wall=None)");
        return NULL;
    }
    double now = PyFloat_AsDouble(args[0]);
    if (now == -1.0 && PyErr_Occurred())
        return NULL;
    double given = -1.0; /* -1: the clock's */
    if (nargs == 2 && args[1] != Py_None) {
        given = PyFloat_AsDouble(args[1]);
        if (given == -1.0 && PyErr_Occurred())
            return NULL;
        if (!isfinite(given) || given < 0.0 || given > 1e12) {
            PyErr_SetString(PyExc_ValueError, "wall: a time.time() value");
            return NULL;
        }
    }
    self->last_now = now;
    double next = Py_HUGE_VAL;
    for (Py_ssize_t i = 0; i < self->count; i++) {
        Due *entry = &self->entries[i];
        if (entry->sink == NULL)
            continue;
        if (entry->due <= now) {
            /* (references held: a send may run Python, the event loop's sendto) */
            PyObject *stream = Py_NewRef(entry->stream), *sink = Py_NewRef(entry->sink);
            SinkTarget target = {sink, 0};
            entry->due += entry->interval;
            int open = sink_open(sink); /* (closed since: skipped until the check) */
            double wall = given >= 0.0 ? given : wall_now();
            int status = open > 0 ? each_packet((LeanStream *)stream, entry->step, wall,
                                                emit_to_sink, &target)
                                  : open;
            if (status < 0) {
                /* (libsrtp refused, the transport raised): this stream stops, the others
                 * go on; the error is printed as an unraisable one */
                PyErr_WriteUnraisable(stream);
                self->failures++;
            } else if (open > 0) {
                self->frames++;
            }
            if (i >= self->count) { /* (changed under us) */
                Py_DECREF(stream);
                Py_DECREF(sink);
                break;
            }
            entry = &self->entries[i];
            if (status < 0 && entry->stream == stream && entry->sink == sink)
                Py_CLEAR(entry->sink);
            Py_DECREF(stream);
            Py_DECREF(sink);
        }
        if (entry->sink != NULL && entry->due < next)
            next = entry->due;
    }
    return PyFloat_FromDouble(next);
}

static Py_ssize_t
Pacer_length(Pacer *self)
{
    return self->count;
}

static PySequenceMethods Pacer_as_sequence = {
    .sq_length = (lenfunc)Pacer_length,
};

static PyMethodDef Pacer_methods[] = {
    {"add", (PyCFunction)Pacer_add, METH_VARARGS, Pacer_add_doc},
    {"set_sink", (PyCFunction)Pacer_set_sink, METH_VARARGS, Pacer_set_sink_doc},
    {"remove", (PyCFunction)Pacer_remove, METH_O, Pacer_remove_doc},
    {"run", (PyCFunction)(void (*)(void))Pacer_run, METH_FASTCALL, Pacer_run_doc},
    {NULL}};

static PyMemberDef Pacer_members[] = {
    {"frames", T_ULONGLONG, offsetof(Pacer, frames), READONLY, "frames sent"},
    {"failures", T_ULONGLONG, offsetof(Pacer, failures), READONLY,
     "frames that failed (their stream stopped until set_sink)"},
    {NULL}};

static PyTypeObject PacerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "prorenata.videomote.media._sendpath.Pacer",
    .tp_doc = PyDoc_STR("Pacer(): the lean peers' streams of one process, each frame sent "
                        "when it is due (run)."),
    .tp_basicsize = sizeof(Pacer),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)Pacer_dealloc,
    .tp_traverse = (traverseproc)Pacer_traverse,
    .tp_clear = (inquiry)Pacer_clear,
    .tp_methods = Pacer_methods,
    .tp_members = Pacer_members,
    .tp_as_sequence = &Pacer_as_sequence,
};

/* ---- RtpCount ------------------------------------------------------------------------- */

#ifndef __linux__
/* recvmmsg(2) is Linux's; elsewhere read() takes the datagrams one recvmsg(2) at a time. */
struct mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};

static int
recvmmsg(int fd, struct mmsghdr *messages, unsigned int size, int flags, void *timeout)
{
    unsigned int received = 0;
    while (received < size) {
        ssize_t got = recvmsg(fd, &messages[received].msg_hdr, flags);
        if (got < 0)
            return received ? (int)received : -1;
        messages[received++].msg_len = (unsigned int)got;
    }
    return (int)received;
}
#endif

/* SSRCs counted one by one; packets of more count in ``other`` only (a room has a
 * handful: the server sends each slot with one SSRC). */
#define COUNTED_SSRCS 64
#define SLOT 2048 /* larger than any datagram here (MTU-sized RTP, DTLS, STUN) */
#define BATCH 64
#define MOST_BATCHES 100 /* bounded: a socket buffer holds far fewer */

typedef struct {
    unsigned int ssrc;
    unsigned long long packets, frames, lost;
    int last_sequence; /* -1: none yet */
    double first_frame_at; /* time.monotonic() of the first marker bit; 0: none */
} SsrcCount;

typedef struct {
    PyObject_HEAD
    SsrcCount counts[COUNTED_SSRCS];
    int used;
    unsigned long long packets, other, lost;
    unsigned char *buffers;
    struct sockaddr_storage *names;
    struct iovec vectors[BATCH];
    struct mmsghdr messages[BATCH];
} RtpCount;

static void
RtpCount_dealloc(RtpCount *self)
{
    PyMem_Free(self->buffers);
    PyMem_Free(self->names);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
RtpCount_init(RtpCount *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "", keywords))
        return -1;
    if (self->buffers == NULL || self->names == NULL) {
        if (self->buffers == NULL)
            self->buffers = PyMem_Malloc((size_t)SLOT * BATCH);
        if (self->names == NULL)
            self->names = PyMem_Calloc(BATCH, sizeof(struct sockaddr_storage));
        if (self->buffers == NULL || self->names == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (int i = 0; i < BATCH; i++) {
            self->vectors[i].iov_base = self->buffers + (size_t)i * SLOT;
            self->vectors[i].iov_len = SLOT;
            memset(&self->messages[i].msg_hdr, 0, sizeof(struct msghdr));
            self->messages[i].msg_hdr.msg_name = &self->names[i];
            self->messages[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
            self->messages[i].msg_hdr.msg_iov = &self->vectors[i];
            self->messages[i].msg_hdr.msg_iovlen = 1;
        }
    }
    memset(self->counts, 0, sizeof(self->counts));
    self->used = 0;
    self->packets = self->other = self->lost = 0;
    return 0;
}

static double
monotonic_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

/* RFC 7983: RTP or RTCP has a first byte 128-191; RTCP's packet types 192-208 next. */
static int
is_rtp(const unsigned char *data, Py_ssize_t size)
{
    return size >= 12 && data[0] > 127 && data[0] < 192 && !(data[1] > 191 && data[1] < 209);
}

/* One RTP packet's clear header counted (synthetic.LeanMedia's rules for a gap). */
static void
count_packet(RtpCount *self, const unsigned char *data)
{
    unsigned int ssrc = ((unsigned int)data[8] << 24) | ((unsigned int)data[9] << 16) |
                        ((unsigned int)data[10] << 8) | data[11];
    int sequence = (data[2] << 8) | data[3];
    self->packets++;
    SsrcCount *entry = NULL;
    for (int i = 0; i < self->used; i++) {
        if (self->counts[i].ssrc == ssrc) {
            entry = &self->counts[i];
            break;
        }
    }
    if (entry == NULL) {
        if (self->used == COUNTED_SSRCS) {
            self->other++;
            return;
        }
        entry = &self->counts[self->used++];
        entry->ssrc = ssrc;
        entry->last_sequence = -1;
    }
    entry->packets++;
    if (entry->last_sequence >= 0) {
        int gap = (sequence - entry->last_sequence - 1) & 0xFFFF;
        if (gap > 0 && gap < 1000) {
            entry->lost += (unsigned long long)gap;
            self->lost += (unsigned long long)gap;
        }
    }
    entry->last_sequence = sequence;
    if (data[1] & 0x80) { /* the marker bit ends a video frame */
        if (entry->frames == 0)
            entry->first_frame_at = monotonic_now();
        entry->frames++;
    }
}

PyDoc_STRVAR(RtpCount_count_doc,
"count(data) -> bool\n\n"
"Count ``data`` if it is an RTP packet (its clear header): whether it was.");

static PyObject *
RtpCount_count(RtpCount *self, PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    int rtp = is_rtp(view.buf, view.len);
    if (rtp)
        count_packet(self, view.buf);
    PyBuffer_Release(&view);
    return PyBool_FromLong(rtp);
}

static PyObject *
address_of(const struct sockaddr_storage *name)
{
    char host[INET6_ADDRSTRLEN];
    if (name->ss_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)name;
        if (inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host)) == NULL)
            return PyErr_SetFromErrno(PyExc_OSError);
        return Py_BuildValue("(siII)", host, ntohs(v6->sin6_port), ntohl(v6->sin6_flowinfo),
                             v6->sin6_scope_id);
    }
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)name;
    if (inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host)) == NULL)
        return PyErr_SetFromErrno(PyExc_OSError);
    return Py_BuildValue("(si)", host, ntohs(v4->sin_port));
}

PyDoc_STRVAR(RtpCount_read_doc,
"read(fd, keep_rtp=False) -> list[tuple[bytes, tuple]] | None\n\n"
"Every datagram waiting on socket ``fd`` (recvmmsg, not blocking): RTP counted from its\n"
"clear header, the rest returned as (data, address) as recvfrom gives them; with\n"
"``keep_rtp`` RTP is returned too, not counted (a peer that decrypts first). None: the\n"
"socket is gone.");

static PyObject *
RtpCount_read(RtpCount *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"fd", "keep_rtp", NULL};
    int fd, keep_rtp = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "i|p", keywords, &fd, &keep_rtp))
        return NULL;
    if (self->buffers == NULL || self->names == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "not set up");
        return NULL;
    }
    PyObject *rest = PyList_New(0);
    if (rest == NULL)
        return NULL;
    for (int batch = 0; batch < MOST_BATCHES; batch++) {
        int received;
        Py_BEGIN_ALLOW_THREADS
        received = recvmmsg(fd, self->messages, BATCH, MSG_DONTWAIT, NULL);
        Py_END_ALLOW_THREADS
        if (received < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                break;
            Py_DECREF(rest);
            Py_RETURN_NONE;
        }
        for (int i = 0; i < received; i++) {
            /* (for the next read: the kernel shortened the address length it filled) */
            self->messages[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
            const unsigned char *data = self->buffers + (size_t)i * SLOT;
            Py_ssize_t size = self->messages[i].msg_len;
            if (self->messages[i].msg_hdr.msg_flags & MSG_TRUNC)
                continue; /* longer than any datagram of ours: not one */
            if (!keep_rtp && is_rtp(data, size)) {
                count_packet(self, data);
                continue;
            }
            PyObject *address = address_of(&self->names[i]);
            PyObject *item = address == NULL ? NULL : Py_BuildValue("(y#N)", data, size, address);
            if (item == NULL || PyList_Append(rest, item) < 0) {
                Py_XDECREF(item);
                Py_DECREF(rest);
                return NULL;
            }
            Py_DECREF(item);
        }
        if (received < BATCH)
            break;
    }
    return rest;
}

PyDoc_STRVAR(RtpCount_counts_doc,
"counts() -> dict[int, tuple[int, int, int, float | None]]\n\n"
"Per SSRC: (packets, frames (marker bits), sequence numbers skipped, time.monotonic()\n"
"of the first frame or None).");

static PyObject *
RtpCount_counts(RtpCount *self, PyObject *unused)
{
    PyObject *result = PyDict_New();
    if (result == NULL)
        return NULL;
    for (int i = 0; i < self->used; i++) {
        SsrcCount *entry = &self->counts[i];
        PyObject *first = entry->frames ? PyFloat_FromDouble(entry->first_frame_at)
                                        : Py_NewRef(Py_None);
        PyObject *value = first == NULL ? NULL
                                        : Py_BuildValue("(KKKO)", entry->packets,
                                                        entry->frames, entry->lost, first);
        Py_XDECREF(first);
        PyObject *key = value == NULL ? NULL : PyLong_FromUnsignedLong(entry->ssrc);
        if (key == NULL || PyDict_SetItem(result, key, value) < 0) {
            Py_XDECREF(key);
            Py_XDECREF(value);
            Py_DECREF(result);
            return NULL;
        }
        Py_DECREF(key);
        Py_DECREF(value);
    }
    return result;
}

static PyMethodDef RtpCount_methods[] = {
    {"read", (PyCFunction)(void (*)(void))RtpCount_read, METH_VARARGS | METH_KEYWORDS,
     RtpCount_read_doc},
    {"count", (PyCFunction)RtpCount_count, METH_O, RtpCount_count_doc},
    {"counts", (PyCFunction)RtpCount_counts, METH_NOARGS, RtpCount_counts_doc},
    {NULL}};

static PyMemberDef RtpCount_members[] = {
    {"packets", T_ULONGLONG, offsetof(RtpCount, packets), READONLY, "RTP packets counted"},
    {"lost", T_ULONGLONG, offsetof(RtpCount, lost), READONLY, "sequence numbers skipped"},
    {"other", T_ULONGLONG, offsetof(RtpCount, other), READONLY,
     "packets of SSRCs past the first 64 (counted only here)"},
    {NULL}};

static PyTypeObject RtpCountType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "prorenata.videomote.media._sendpath.RtpCount",
    .tp_doc = PyDoc_STR("RtpCount(): a synthetic peer's received RTP counted per SSRC from "
                        "the clear header."),
    .tp_basicsize = sizeof(RtpCount),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)RtpCount_init,
    .tp_dealloc = (destructor)RtpCount_dealloc,
    .tp_methods = RtpCount_methods,
    .tp_members = RtpCount_members,
};

int
lean_ready(void)
{
    if (PyType_Ready(&LeanStreamType) < 0 || PyType_Ready(&RtpCountType) < 0 ||
        PyType_Ready(&PacerType) < 0)
        return -1;
    return 0;
}

int
lean_add(PyObject *module)
{
    if (PyModule_AddObjectRef(module, "LeanStream", (PyObject *)&LeanStreamType) < 0 ||
        PyModule_AddObjectRef(module, "RtpCount", (PyObject *)&RtpCountType) < 0 ||
        PyModule_AddObjectRef(module, "Pacer", (PyObject *)&PacerType) < 0)
        return -1;
    return 0;
}

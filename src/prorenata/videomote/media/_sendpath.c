/* The media server's per-packet send path: join, encrypt (SRTP) and send, in one call.
 *
 * forwarding._Route sends every forwarded RTP packet to one viewer. In Python that is a
 * join of header and payload, a copy into the SRTP session's buffer, libsrtp's
 * srtp_protect through cffi, a copy out and the event loop's sendto, which converts the
 * address again for every packet: most of the server's CPU per forwarded stream. A Sink
 * does the same for one viewer in one C call: the header and the payload are copied into
 * its own buffer, protected there by the viewer's own libsrtp context (the one pylibsrtp
 * made from the DTLS keys, called through the address of pylibsrtp's srtp_protect) and
 * sent with sendto(2) on the socket of the ICE pair aioice nominated, to an address
 * converted once.
 *
 * Nothing here owns the libsrtp context or the socket: the Sink keeps a reference to the
 * pylibsrtp Session (which frees the context when it goes), and the Python side checks
 * that the transport is open before each send and makes a new Sink when the pair or the
 * session changes (forwarding._Route).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "_sendpath.h"

/* libsrtp 2: srtp_err_status_t srtp_protect(srtp_t ctx, void *rtp_hdr, int *len_ptr) */
typedef int (*protect_function)(void *context, void *packet, int *length);

/* libsrtp's SRTP_MAX_TRAILER_LEN (pylibsrtp.SRTP_MAX_TRAILER_LEN): room kept after the
 * packet for the authentication tag and MKI. */
#define TRAILER 144

/* One libsrtp context of a pylibsrtp Session, used in a buffer of our own. */
typedef struct {
    protect_function function; /* srtp_protect or srtp_unprotect (NULL: not set up) */
    void *context;
    PyObject *owner; /* the pylibsrtp Session the context belongs to (it frees it) */
    unsigned char *buffer;
    Py_ssize_t limit; /* the longest packet */
} Srtp;

/* ``function`` and ``context`` (addresses) of ``owner``, for packets up to ``limit``
 * bytes that may grow by ``room`` bytes. 0, or -1 with an exception set. */
static int
srtp_use(Srtp *srtp, unsigned long long function, unsigned long long context, PyObject *owner,
         Py_ssize_t limit, Py_ssize_t room)
{
    if (srtp->buffer != NULL) {
        /* (a second __init__ would free the buffer a send in progress may be using) */
        PyErr_SetString(PyExc_RuntimeError, "set up once only");
        return -1;
    }
    if (!function || !context || limit <= 0 || limit > 65536) {
        PyErr_SetString(PyExc_ValueError, "no libsrtp function or context, or a bad limit");
        return -1;
    }
    unsigned char *buffer = PyMem_Malloc((size_t)(limit + room));
    if (buffer == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    srtp->buffer = buffer;
    srtp->function = (protect_function)(uintptr_t)function;
    srtp->context = (void *)(uintptr_t)context;
    Py_XSETREF(srtp->owner, Py_NewRef(owner));
    srtp->limit = limit;
    return 0;
}

/* Not usable any more (the owner may free the context). */
static void
srtp_clear(Srtp *srtp)
{
    srtp->function = NULL;
    Py_CLEAR(srtp->owner);
}

static void
srtp_free(Srtp *srtp)
{
    srtp_clear(srtp);
    PyMem_Free(srtp->buffer);
    srtp->buffer = NULL;
}

/* ``first`` and ``second`` joined in the buffer and run through the libsrtp function:
 * the packet's new length there; -1 with ValueError (too long, or libsrtp refused it:
 * a forged, damaged or replayed packet) or RuntimeError (not set up). */
static int
srtp_run(Srtp *srtp, const void *first, Py_ssize_t first_size, const void *second,
         Py_ssize_t second_size)
{
    if (srtp->function == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "not set up");
        return -1;
    }
    Py_ssize_t size = first_size + second_size;
    if (size > srtp->limit) {
        PyErr_SetString(PyExc_ValueError, "packet is too long");
        return -1;
    }
    memcpy(srtp->buffer, first, (size_t)first_size);
    if (second_size)
        memcpy(srtp->buffer + first_size, second, (size_t)second_size);
    int length = (int)size;
    int status = srtp->function(srtp->context, srtp->buffer, &length);
    if (status) {
        PyErr_Format(PyExc_ValueError, "libsrtp refused the packet (%d)", status);
        return -1;
    }
    return length;
}

typedef struct {
    PyObject_HEAD
    Srtp srtp; /* srtp_protect, limit: before protection (TRAILER more in the buffer) */
    PyObject *transport; /* the event loop's datagram transport on that socket */
    PyObject *socket;    /* its socket object (for audit hooks, as socket.sendto gives it) */
    int fd;
    struct sockaddr_storage address;
    socklen_t address_length;
    PyObject *peer; /* (host, port): the address for audit hooks */
    unsigned long long sent;
    int last_errno;
} Sink;

static void
Sink_dealloc(Sink *self)
{
    PyObject_GC_UnTrack(self);
    srtp_free(&self->srtp);
    Py_CLEAR(self->peer);
    Py_CLEAR(self->transport);
    Py_CLEAR(self->socket);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
Sink_traverse(Sink *self, visitproc visit, void *arg)
{
    Py_VISIT(self->srtp.owner);
    Py_VISIT(self->transport);
    Py_VISIT(self->socket);
    return 0;
}

static int
Sink_clear(Sink *self)
{
    srtp_clear(&self->srtp);
    Py_CLEAR(self->peer);
    Py_CLEAR(self->transport);
    Py_CLEAR(self->socket);
    return 0;
}

static int
Sink_init(Sink *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"protect", "context", "owner", "transport", "socket",
                               "host",    "port",    "limit", NULL};
    unsigned long long protect, context;
    PyObject *owner, *transport, *socket;
    int port;
    const char *host;
    Py_ssize_t limit;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "KKOOOsin", keywords, &protect, &context,
                                     &owner, &transport, &socket, &host, &port, &limit))
        return -1;
    if (self->srtp.buffer != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "set up once only");
        return -1;
    }
    PyObject *number = PyObject_CallMethod(socket, "fileno", NULL);
    if (number == NULL)
        return -1;
    int fd = (int)PyLong_AsLong(number);
    Py_DECREF(number);
    if (fd == -1 && PyErr_Occurred())
        return -1;
    if (fd < 0 || port <= 0 || port > 65535) {
        PyErr_SetString(PyExc_ValueError, "bad socket or port");
        return -1;
    }
    memset(&self->address, 0, sizeof(self->address));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&self->address;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&self->address;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((unsigned short)port);
        self->address_length = sizeof(*v4);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((unsigned short)port);
        self->address_length = sizeof(*v6);
    } else {
        PyErr_Format(PyExc_ValueError, "not a numeric address: %s", host);
        return -1;
    }
    PyObject *peer = Py_BuildValue("(si)", host, port);
    if (peer == NULL)
        return -1;
    if (srtp_use(&self->srtp, protect, context, owner, limit, TRAILER) < 0) {
        Py_DECREF(peer);
        return -1;
    }
    Py_XSETREF(self->peer, peer);
    Py_XSETREF(self->transport, Py_NewRef(transport));
    Py_XSETREF(self->socket, Py_NewRef(socket));
    self->fd = fd;
    return 0;
}

static PyObject *str_get_write_buffer_size, *str_sendto, *str_fileno;

/* Hand the datagram to the event loop's transport, which queues it (a full socket buffer,
 * or datagrams it queued before: they go first). 1: handed over; -1: error. */
static int
queue_datagram(Sink *self, const unsigned char *data, int length)
{
    PyObject *datagram = PyBytes_FromStringAndSize((const char *)data, length);
    if (datagram == NULL)
        return -1;
    PyObject *result = PyObject_CallMethodObjArgs(self->transport, str_sendto, datagram,
                                                  self->peer, NULL);
    Py_DECREF(datagram);
    if (result == NULL)
        return -1;
    Py_DECREF(result);
    return 1;
}

/* The encrypted datagram to the peer: sendto(2) on the socket, announced to audit hooks
 * as Python's socket.sendto is (sys.addaudithook: the tests watch every address the
 * server sends to); through the event loop's transport when it has datagrams queued or
 * the kernel's buffer is full, as the transport itself would. 1: sent or queued; 0: the
 * kernel refused it (UDP's loss: an unreachable network); -1: error. */
static int
send_datagram(Sink *self, const unsigned char *data, int length)
{
    PyObject *queued = PyObject_CallMethodNoArgs(self->transport, str_get_write_buffer_size);
    if (queued == NULL)
        return -1;
    int waiting = PyObject_IsTrue(queued);
    Py_DECREF(queued);
    if (waiting < 0)
        return -1;
    if (waiting)
        return queue_datagram(self, data, length);
    if (PySys_Audit("socket.sendto", "OO", self->socket, self->peer) < 0)
        return -1;
    ssize_t done;
    do {
        done = sendto(self->fd, data, (size_t)length, MSG_DONTWAIT,
                      (struct sockaddr *)&self->address, self->address_length);
    } while (done < 0 && errno == EINTR);
    if (done >= 0) {
        self->sent++;
        return 1;
    }
    self->last_errno = errno;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
        return queue_datagram(self, data, length);
    return 0;
}

/* ``first`` + ``second`` SRTP-protected and sent: 1 sent or queued, 0 the kernel refused
 * it, -1 error. */
static int
protect_and_send(Sink *self, const void *first, Py_ssize_t first_size, const void *second,
                 Py_ssize_t second_size)
{
    int length = srtp_run(&self->srtp, first, first_size, second, second_size);
    if (length < 0)
        return -1;
    return send_datagram(self, self->srtp.buffer, length);
}

PyDoc_STRVAR(Sink_send_doc,
"send(header, payload) -> bool\n\n"
"Encrypt header + payload and send it. False when the kernel did not take it (a full\n"
"socket buffer, an unreachable network: UDP's loss); ValueError when it is too long,\n"
"RuntimeError when libsrtp refuses it.");

static PyObject *
Sink_send(Sink *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "send(header, payload)");
        return NULL;
    }
    if (self->transport == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the sink is not set up");
        return NULL;
    }
    Py_buffer header, payload;
    if (PyObject_GetBuffer(args[0], &header, PyBUF_SIMPLE) < 0)
        return NULL;
    if (PyObject_GetBuffer(args[1], &payload, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&header);
        return NULL;
    }
    int sent = protect_and_send(self, header.buf, header.len, payload.buf, payload.len);
    PyBuffer_Release(&header);
    PyBuffer_Release(&payload);
    if (sent < 0)
        return NULL;
    return PyBool_FromLong(sent);
}

/* For _lean.c: whether ``sink``'s socket is still the one it was made for (1; 0: closed
 * since, its number may be another socket's now; -1: error). */
int
sink_open(PyObject *sink)
{
    Sink *self = (Sink *)sink;
    if (self->socket == NULL)
        return 0;
    PyObject *number = PyObject_CallMethodNoArgs(self->socket, str_fileno);
    if (number == NULL)
        return -1;
    long fd = PyLong_AsLong(number);
    Py_DECREF(number);
    if (fd == -1 && PyErr_Occurred())
        return -1;
    return fd == self->fd;
}

/* For _lean.c: ``data`` SRTP-protected and sent by ``sink`` (a Sink, see is_sink): 1 sent
 * or queued, 0 the kernel refused it, -1 error. */
int
sink_send(PyObject *sink, const unsigned char *data, Py_ssize_t size)
{
    Sink *self = (Sink *)sink;
    if (self->transport == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the sink is not set up");
        return -1;
    }
    return protect_and_send(self, data, size, NULL, 0);
}

static PyMethodDef Sink_methods[] = {
    {"send", (PyCFunction)(void (*)(void))Sink_send, METH_FASTCALL, Sink_send_doc},
    {NULL}};

static PyMemberDef Sink_members[] = {
    {"fd", T_INT, offsetof(Sink, fd), READONLY, "the socket sent on"},
    {"limit", T_PYSSIZET, offsetof(Sink, srtp.limit), READONLY, "the longest packet"},
    {"sent", T_ULONGLONG, offsetof(Sink, sent), READONLY, "packets the kernel took"},
    {"last_errno", T_INT, offsetof(Sink, last_errno), READONLY,
     "errno of the last packet the kernel did not take (0: none yet)"},
    {"owner", T_OBJECT, offsetof(Sink, srtp.owner), READONLY, "the SRTP session"},
    {NULL}};

static PyTypeObject SinkType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "prorenata.videomote.media._sendpath.Sink",
    .tp_doc = PyDoc_STR(
        "Sink(protect, context, owner, transport, socket, host, port, limit): SRTP-protect\n"
        "and send to one address on one socket (see the module's comment)."),
    .tp_basicsize = sizeof(Sink),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Sink_init,
    .tp_dealloc = (destructor)Sink_dealloc,
    .tp_traverse = (traverseproc)Sink_traverse,
    .tp_clear = (inquiry)Sink_clear,
    .tp_methods = Sink_methods,
    .tp_members = Sink_members,
};

int
is_sink(PyObject *object)
{
    return PyObject_TypeCheck(object, &SinkType);
}

/* -- the receive side: SRTP-unprotect and read an RTP packet ----------------------- */



static void
ReadPacket_dealloc(ReadPacket *self)
{
    Py_XDECREF(self->payload);
    Py_XDECREF(self->abs_send_time);
    Py_XDECREF(self->audio_level);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
ReadPacket_extensions(PyObject *self, void *closure)
{
    Py_INCREF(self);
    return self;
}

static PyObject *
ReadPacket_none(PyObject *self, void *closure)
{
    Py_RETURN_NONE;
}

static PyObject *
ReadPacket_zero(PyObject *self, void *closure)
{
    return PyLong_FromLong(0);
}

static PyObject *
ReadPacket_two(PyObject *self, void *closure)
{
    return PyLong_FromLong(2);
}

static PyObject *
ReadPacket_no_csrc(PyObject *self, void *closure)
{
    return PyTuple_New(0);
}

static PyGetSetDef ReadPacket_getset[] = {
    {"extensions", ReadPacket_extensions, NULL, "the packet itself", NULL},
    {"version", ReadPacket_two, NULL, "2", NULL},
    {"padding_size", ReadPacket_zero, NULL, "0: a padded packet is read by aiortc", NULL},
    {"csrc", ReadPacket_no_csrc, NULL, "(): a packet with CSRCs is read by aiortc", NULL},
    {"mid", ReadPacket_none, NULL, "not read", NULL},
    {"rtp_stream_id", ReadPacket_none, NULL, "not read", NULL},
    {"repaired_rtp_stream_id", ReadPacket_none, NULL, "not read", NULL},
    {"transmission_offset", ReadPacket_none, NULL, "not read", NULL},
    {"transport_sequence_number", ReadPacket_none, NULL, "not read", NULL},
    {NULL}};

static PyMemberDef ReadPacket_members[] = {
    {"marker", T_INT, offsetof(ReadPacket, marker), READONLY, NULL},
    {"payload_type", T_INT, offsetof(ReadPacket, payload_type), READONLY, NULL},
    {"sequence_number", T_INT, offsetof(ReadPacket, sequence_number), READONLY, NULL},
    {"timestamp", T_UINT, offsetof(ReadPacket, timestamp), READONLY, NULL},
    {"ssrc", T_UINT, offsetof(ReadPacket, ssrc), READONLY, NULL},
    {"payload", T_OBJECT, offsetof(ReadPacket, payload), READONLY, NULL},
    {"abs_send_time", T_OBJECT, offsetof(ReadPacket, abs_send_time), READONLY, NULL},
    {"audio_level", T_OBJECT, offsetof(ReadPacket, audio_level), READONLY, NULL},
    {NULL}};

PyTypeObject ReadPacketType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "prorenata.videomote.media._sendpath.ReadPacket",
    .tp_doc = PyDoc_STR("An RTP packet as read(...) reads it (made by read and Reader.read)."),
    .tp_basicsize = sizeof(ReadPacket),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)ReadPacket_dealloc,
    .tp_members = ReadPacket_members,
    .tp_getset = ReadPacket_getset,
};

static unsigned int
be16(const unsigned char *p)
{
    return (unsigned int)p[0] << 8 | p[1];
}

static unsigned int
be32(const unsigned char *p)
{
    return (unsigned int)p[0] << 24 | (unsigned int)p[1] << 16 | (unsigned int)p[2] << 8 | p[3];
}

/* ``data`` (a clear RTP packet) read as aiortc's RtpPacket.parse reads it, for the packets
 * browsers send nearly always: no padding, no CSRCs, no or one-byte header extensions.
 * Any other packet: a new reference to ``original`` (bytes; aiortc reads those), or
 * to bytes made from data when original is NULL. ValueError where RtpPacket.parse raises
 * it. NULL with an exception set on failure. */
static PyObject *
parse_rtp(const unsigned char *data, Py_ssize_t size, PyObject *original, int send_time_id,
          int level_id)
{
    if (size < 12) {
        PyErr_SetString(PyExc_ValueError, "RTP packet length is less than 12 bytes");
        return NULL;
    }
    Py_ssize_t end = 12;
    if ((data[0] & 0xEF) != 0x80)
        goto other;
    PyObject *send_time = NULL, *level = NULL;
    if (data[0] & 0x10) {
        if (size < 16) {
            PyErr_SetString(PyExc_ValueError,
                            "RTP packet has truncated extension profile / length");
            return NULL;
        }
        if (be16(data + 12) != 0xBEDE)
            goto other;
        end = 16 + 4 * (Py_ssize_t)be16(data + 14);
        if (size < end) {
            PyErr_SetString(PyExc_ValueError, "RTP packet has truncated extension value");
            return NULL;
        }
        Py_ssize_t position = 16;
        while (position < end) {
            unsigned char byte = data[position++];
            if (!byte)
                continue; /* padding */
            int element = byte >> 4;
            Py_ssize_t length = (byte & 0x0F) + 1;
            if (position + length > end) {
                Py_XDECREF(send_time);
                Py_XDECREF(level);
                PyErr_SetString(PyExc_ValueError,
                                "RTP one-byte header extension value is truncated");
                return NULL;
            }
            if (send_time_id && element == send_time_id) {
                unsigned long long value = 0;
                for (Py_ssize_t i = 0; i < length; i++)
                    value = value << 8 | data[position + i];
                Py_XSETREF(send_time, PyLong_FromUnsignedLongLong(value));
                if (send_time == NULL)
                    goto failed;
            } else if (level_id && element == level_id) {
                unsigned char value = data[position];
                Py_XSETREF(level, Py_BuildValue("(Oi)", value & 0x80 ? Py_True : Py_False,
                                                value & 0x7F));
                if (level == NULL)
                    goto failed;
            }
            position += length;
        }
    }
    ReadPacket *packet = PyObject_New(ReadPacket, &ReadPacketType);
    if (packet == NULL)
        goto failed;
    packet->marker = data[1] >> 7;
    packet->payload_type = data[1] & 0x7F;
    packet->sequence_number = (int)be16(data + 2);
    packet->timestamp = be32(data + 4);
    packet->ssrc = be32(data + 8);
    packet->abs_send_time = send_time ? send_time : Py_NewRef(Py_None);
    packet->audio_level = level ? level : Py_NewRef(Py_None);
    packet->payload = PyBytes_FromStringAndSize((const char *)data + end, size - end);
    if (packet->payload == NULL) {
        Py_DECREF(packet);
        return NULL;
    }
    return (PyObject *)packet;
failed:
    Py_XDECREF(send_time);
    Py_XDECREF(level);
    return NULL;
other:
    if (original != NULL)
        return Py_NewRef(original);
    return PyBytes_FromStringAndSize((const char *)data, size);
}

PyDoc_STRVAR(read_doc,
"read(data, send_time_id, level_id) -> ReadPacket | bytes\n\n"
"A clear RTP packet read as aiortc's RtpPacket.parse reads it (of the header extensions\n"
"the send time and audio level, IDs 0: not negotiated); ``data`` itself when it has\n"
"padding, CSRCs or two-byte extensions (RtpPacket.parse reads those); ValueError where\n"
"RtpPacket.parse raises it.");

static PyObject *
read_packet(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "read(data: bytes, send_time_id, level_id)");
        return NULL;
    }
    int send_time_id = (int)PyLong_AsLong(args[1]);
    int level_id = (int)PyLong_AsLong(args[2]);
    if (PyErr_Occurred())
        return NULL;
    return parse_rtp((const unsigned char *)PyBytes_AS_STRING(args[0]),
                     PyBytes_GET_SIZE(args[0]), args[0], send_time_id, level_id);
}

typedef struct {
    PyObject_HEAD
    Srtp srtp; /* srtp_unprotect */
} Reader;

static void
Reader_dealloc(Reader *self)
{
    PyObject_GC_UnTrack(self);
    srtp_free(&self->srtp);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
Reader_traverse(Reader *self, visitproc visit, void *arg)
{
    Py_VISIT(self->srtp.owner);
    return 0;
}

static int
Reader_clear(Reader *self)
{
    srtp_clear(&self->srtp);
    return 0;
}

static int
Reader_init(Reader *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"unprotect", "context", "owner", "limit", NULL};
    unsigned long long unprotect, context;
    PyObject *owner;
    Py_ssize_t limit;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "KKOn", keywords, &unprotect, &context,
                                     &owner, &limit))
        return -1;
    return srtp_use(&self->srtp, unprotect, context, owner, limit, 0);
}

PyDoc_STRVAR(Reader_read_doc,
"read(data, send_time_id, level_id) -> ReadPacket | bytes\n\n"
"SRTP-unprotect ``data`` (ValueError when libsrtp refuses it or it is too long), then\n"
"read it as the module's read() does (the clear bytes where aiortc must read it).");

static PyObject *
Reader_read(Reader *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "read(data: bytes, send_time_id, level_id)");
        return NULL;
    }
    int send_time_id = (int)PyLong_AsLong(args[1]);
    int level_id = (int)PyLong_AsLong(args[2]);
    if (PyErr_Occurred())
        return NULL;
    int length = srtp_run(&self->srtp, PyBytes_AS_STRING(args[0]), PyBytes_GET_SIZE(args[0]),
                          NULL, 0);
    if (length < 0)
        return NULL;
    return parse_rtp(self->srtp.buffer, length, NULL, send_time_id, level_id);
}

static PyMethodDef Reader_methods[] = {
    {"read", (PyCFunction)(void (*)(void))Reader_read, METH_FASTCALL, Reader_read_doc},
    {NULL}};

static PyMemberDef Reader_members[] = {
    {"owner", T_OBJECT, offsetof(Reader, srtp.owner), READONLY, "the SRTP session"},
    {NULL}};

static PyTypeObject ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "prorenata.videomote.media._sendpath.Reader",
    .tp_doc = PyDoc_STR(
        "Reader(unprotect, context, owner, limit): SRTP-unprotect with one libsrtp context\n"
        "and read the RTP packet (see read)."),
    .tp_basicsize = sizeof(Reader),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Reader_init,
    .tp_dealloc = (destructor)Reader_dealloc,
    .tp_traverse = (traverseproc)Reader_traverse,
    .tp_clear = (inquiry)Reader_clear,
    .tp_methods = Reader_methods,
    .tp_members = Reader_members,
};

/* -- a viewer's forwarded stream: rewrite, keep, protect, send -------------------- */

/* aiortc's RTP_HISTORY_SIZE: the packets kept for retransmission (NACK). */
#define HISTORY 128
#define LONGEST_HEADER 64

typedef struct {
    PyObject *payload; /* NULL: nothing kept in this place */
    unsigned char header[LONGEST_HEADER];
    int header_length;
    int seq;
} Kept;

typedef struct {
    PyObject_HEAD
    PyObject *fallback; /* the Python write, for everything but the steady state */
    PyObject *sender;   /* aiortc's RTCRtpSender: its counters for sender reports */
    PyObject *source;   /* whose packets this lane sends (compared by identity) */
    /* The header: payload type, SSRC and the negotiated one-byte extensions. */
    int configured;
    int payload_type;
    unsigned int ssrc;
    int send_time_id;
    int level_id;
    unsigned char mid_element[18];
    int mid_length; /* of mid_element, 0: none */
    int words;      /* extension words (0: no extension) */
    unsigned int seq_delta;
    unsigned int ts_delta;
    /* The route the steady state sends on (NULL: the Python write decides). */
    Sink *sink;
    PyObject *dtls, *nominated, *pair, *transport, *connected;
    /* The last packet sent. */
    int sent_any;
    int last_seq;
    unsigned int last_ts;
    unsigned long long last_ntp;
    Kept kept[HISTORY];
} Lane;

static PyObject *str_state, *str_tx_srtp, *str_is_closing, *str_ntp_timestamp, *str_rtp_timestamp,
    *str_octet_count, *str_packet_count, *one;

static void
Lane_detach(Lane *self)
{
    Py_CLEAR(self->sink);
    Py_CLEAR(self->dtls);
    Py_CLEAR(self->nominated);
    Py_CLEAR(self->pair);
    Py_CLEAR(self->transport);
    Py_CLEAR(self->connected);
}

static int
Lane_clear(Lane *self)
{
    Lane_detach(self);
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->sender);
    Py_CLEAR(self->source);
    for (int i = 0; i < HISTORY; i++)
        Py_CLEAR(self->kept[i].payload);
    return 0;
}

static void
Lane_dealloc(Lane *self)
{
    PyObject_GC_UnTrack(self);
    Lane_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
Lane_traverse(Lane *self, visitproc visit, void *arg)
{
    Py_VISIT(self->fallback);
    Py_VISIT(self->sender);
    Py_VISIT(self->source);
    Py_VISIT(self->sink);
    Py_VISIT(self->dtls);
    Py_VISIT(self->nominated);
    Py_VISIT(self->pair);
    Py_VISIT(self->transport);
    Py_VISIT(self->connected);
    return 0;
}

static int
Lane_init(Lane *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"fallback", "sender", NULL};
    PyObject *fallback, *sender;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO", keywords, &fallback, &sender))
        return -1;
    if (!PyCallable_Check(fallback)) {
        PyErr_SetString(PyExc_TypeError, "fallback must be callable");
        return -1;
    }
    Py_XSETREF(self->fallback, Py_NewRef(fallback));
    Py_XSETREF(self->sender, Py_NewRef(sender));
    Py_XSETREF(self->source, Py_NewRef(Py_None));
    return 0;
}

PyDoc_STRVAR(Lane_configure_doc,
"configure(payload_type, ssrc, mid_id, mid, send_time_id, level_id)\n\n"
"The header this lane writes, as forwarding.header_writer writes it.");

static PyObject *
Lane_configure(Lane *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {
        "payload_type", "ssrc", "mid_id", "mid", "send_time_id", "level_id", NULL};
    int payload_type, mid_id, send_time_id, level_id;
    unsigned int ssrc;
    Py_buffer mid;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "iIiy*ii", keywords, &payload_type, &ssrc,
                                     &mid_id, &mid, &send_time_id, &level_id))
        return NULL;
    if (payload_type < 0 || payload_type > 127 || mid_id < 0 || mid_id > 14 ||
        send_time_id < 0 || send_time_id > 14 || level_id < 0 || level_id > 14 ||
        mid.len > 16) {
        PyBuffer_Release(&mid);
        PyErr_SetString(PyExc_ValueError, "bad payload type, extension ID or MID");
        return NULL;
    }
    self->payload_type = payload_type;
    self->ssrc = ssrc;
    self->send_time_id = send_time_id;
    self->level_id = level_id;
    self->mid_length = 0;
    if (mid_id && mid.len) {
        self->mid_element[0] = (unsigned char)(mid_id << 4 | (int)(mid.len - 1));
        memcpy(self->mid_element + 1, mid.buf, (size_t)mid.len);
        self->mid_length = (int)mid.len + 1;
    }
    PyBuffer_Release(&mid);
    int size = (send_time_id ? 4 : 0) + (level_id ? 2 : 0) + self->mid_length;
    self->words = (size + 3) / 4;
    self->configured = 1;
    Py_RETURN_NONE;
}

/* The header for one packet, as header_writer writes it; its length. */
static int
write_header(Lane *self, unsigned char *out, int marker, int seq, unsigned int ts,
             unsigned long long ntp, int level)
{
    out[0] = self->words ? 0x90 : 0x80;
    out[1] = (unsigned char)(marker << 7 | self->payload_type);
    out[2] = (unsigned char)(seq >> 8);
    out[3] = (unsigned char)seq;
    out[4] = (unsigned char)(ts >> 24);
    out[5] = (unsigned char)(ts >> 16);
    out[6] = (unsigned char)(ts >> 8);
    out[7] = (unsigned char)ts;
    out[8] = (unsigned char)(self->ssrc >> 24);
    out[9] = (unsigned char)(self->ssrc >> 16);
    out[10] = (unsigned char)(self->ssrc >> 8);
    out[11] = (unsigned char)self->ssrc;
    if (!self->words)
        return 12;
    out[12] = 0xBE;
    out[13] = 0xDE;
    out[14] = (unsigned char)(self->words >> 8);
    out[15] = (unsigned char)self->words;
    int at = 16;
    if (self->send_time_id) {
        unsigned int send_time = (unsigned int)(ntp >> 14) & 0xFFFFFF;
        out[at++] = (unsigned char)(self->send_time_id << 4 | 2);
        out[at++] = (unsigned char)(send_time >> 16);
        out[at++] = (unsigned char)(send_time >> 8);
        out[at++] = (unsigned char)send_time;
    }
    if (self->level_id) {
        out[at++] = (unsigned char)(self->level_id << 4);
        out[at++] = (unsigned char)level;
    }
    memcpy(out + at, self->mid_element, (size_t)self->mid_length);
    at += self->mid_length;
    int end = 16 + 4 * self->words;
    while (at < end)
        out[at++] = 0;
    return end;
}

/* RFC 6464: the voice activity bit and the level (-dBov); None: silence (127). -1: error */
static int
level_byte(PyObject *level)
{
    if (level == Py_None)
        return 127;
    if (!PyTuple_Check(level) || PyTuple_GET_SIZE(level) != 2) {
        PyErr_SetString(PyExc_TypeError, "audio_level must be (vad, level) or None");
        return -1;
    }
    int vad = PyObject_IsTrue(PyTuple_GET_ITEM(level, 0));
    if (vad < 0)
        return -1;
    long value = PyLong_AsLong(PyTuple_GET_ITEM(level, 1));
    if (value == -1 && PyErr_Occurred())
        return -1;
    return (vad ? 0x80 : 0) | (int)(value & 0x7F);
}

static int
add_to_counter(PyObject *sender, PyObject *name, PyObject *amount)
{
    PyObject *count = PyObject_GetAttr(sender, name);
    if (count == NULL)
        return -1;
    PyObject *more = PyNumber_Add(count, amount);
    Py_DECREF(count);
    if (more == NULL)
        return -1;
    int result = PyObject_SetAttr(sender, name, more);
    Py_DECREF(more);
    return result;
}

/* Keep, count and note a packet sent with ``seq``/``ts`` at ``ntp``. */
static int
note_sent(Lane *self, const unsigned char *header, int header_length, PyObject *payload,
          int seq, unsigned int ts, unsigned long long ntp)
{
    Kept *kept = &self->kept[seq % HISTORY];
    Py_XSETREF(kept->payload, Py_NewRef(payload));
    memcpy(kept->header, header, (size_t)header_length);
    kept->header_length = header_length;
    kept->seq = seq;
    self->sent_any = 1;
    self->last_seq = seq;
    self->last_ts = ts;
    self->last_ntp = ntp;
    /* The sender's own counters, for its RTCP sender reports. */
    PyObject *value = PyLong_FromUnsignedLongLong(ntp);
    if (value == NULL || PyObject_SetAttr(self->sender, str_ntp_timestamp, value) < 0) {
        Py_XDECREF(value);
        return -1;
    }
    Py_DECREF(value);
    value = PyLong_FromUnsignedLong(ts);
    if (value == NULL || PyObject_SetAttr(self->sender, str_rtp_timestamp, value) < 0) {
        Py_XDECREF(value);
        return -1;
    }
    Py_DECREF(value);
    PyObject *octets = PyLong_FromSsize_t(PyBytes_GET_SIZE(payload));
    if (octets == NULL)
        return -1;
    int counted = add_to_counter(self->sender, str_octet_count, octets);
    Py_DECREF(octets);
    if (counted < 0)
        return -1;
    return add_to_counter(self->sender, str_packet_count, one);
}

/* Whether the route the lane was attached to is still the one to send on: DTLS
 * connected, the same nominated pair, its transport open. -1: error. */
static int
route_holds(Lane *self)
{
    if (self->sink == NULL)
        return 0;
    PyObject *state = PyObject_GetAttr(self->dtls, str_state);
    if (state == NULL)
        return -1;
    Py_DECREF(state);
    if (state != self->connected)
        return 0;
    PyObject *pair = PyDict_GetItemWithError(self->nominated, one);
    if (pair != self->pair)
        return PyErr_Occurred() ? -1 : 0;
    PyObject *session = PyObject_GetAttr(self->dtls, str_tx_srtp);
    if (session == NULL)
        return -1;
    Py_DECREF(session);
    if (session != self->sink->srtp.owner)
        return 0;
    PyObject *closing = PyObject_CallMethodNoArgs(self->transport, str_is_closing);
    if (closing == NULL)
        return -1;
    int is_closing = PyObject_IsTrue(closing);
    Py_DECREF(closing);
    return is_closing < 0 ? -1 : !is_closing;
}

/* Send ``packet`` (a ReadPacket) rewritten on the attached sink. 1: sent; 0: the kernel
 * did not take it; -1: error. */
static int
send_read_packet(Lane *self, ReadPacket *packet, unsigned long long ntp)
{
    int seq = (int)((packet->sequence_number + self->seq_delta) & 0xFFFF);
    unsigned int ts = packet->timestamp + self->ts_delta;
    int level = 127;
    if (self->level_id && (level = level_byte(packet->audio_level)) < 0)
        return -1;
    PyObject *payload = packet->payload;
    if (payload == NULL || !PyBytes_Check(payload)) {
        PyErr_SetString(PyExc_TypeError, "payload must be bytes");
        return -1;
    }
    unsigned char header[LONGEST_HEADER];
    int header_length = write_header(self, header, packet->marker & 1, seq, ts, ntp, level);
    /* Held for the send: an audit hook may detach the lane meanwhile. */
    Sink *sink = (Sink *)Py_NewRef(self->sink);
    Py_INCREF(payload);
    int result = -1;
    int length = srtp_run(&sink->srtp, header, header_length, PyBytes_AS_STRING(payload),
                          PyBytes_GET_SIZE(payload));
    if (length < 0)
        goto done;
    int sent = send_datagram(sink, sink->srtp.buffer, length);
    if (sent < 0)
        goto done;
    /* Kept and counted also when the kernel refused it, as aiortc counts what it hands
     * to its transport: a NACK for it is answered. */
    if (note_sent(self, header, header_length, payload, seq, ts, ntp) < 0)
        goto done;
    result = sent;
done:
    Py_DECREF(payload);
    Py_DECREF(sink);
    return result;
}

PyDoc_STRVAR(Lane_write_doc,
"write(source, packet, keyframe, now)\n\n"
"``packet`` of ``source`` to this viewer: in C while the lane is attached to a route\n"
"that holds and the packet is a ReadPacket; else (or the lane not ready) the fallback.");

static PyObject *
Lane_write(Lane *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 3 || nargs > 4) {
        PyErr_SetString(PyExc_TypeError, "write(source, packet, keyframe, now=0)");
        return NULL;
    }
    if (self->fallback == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the lane is not set up");
        return NULL;
    }
    if (args[0] != self->source)
        Py_RETURN_NONE;
    unsigned long long ntp = 0;
    if (nargs == 4) {
        ntp = PyLong_AsUnsignedLongLong(args[3]);
        if (ntp == (unsigned long long)-1 && PyErr_Occurred())
            return NULL;
    }
    if (ntp && Py_IS_TYPE(args[1], &ReadPacketType)) {
        int holds = route_holds(self);
        if (holds < 0)
            return NULL;
        if (holds) {
            if (send_read_packet(self, (ReadPacket *)args[1], ntp) < 0)
                return NULL;
            Py_RETURN_NONE;
        }
        Lane_detach(self);
    }
    return PyObject_Vectorcall(self->fallback, args, (size_t)nargs, NULL);
}

PyDoc_STRVAR(Lane_send_doc,
"send(packet, now) -> bool\n\n"
"``packet`` (a ReadPacket) rewritten and sent on the attached route, kept and counted;\n"
"False when the kernel did not take it.");

static PyObject *
Lane_send(Lane *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !Py_IS_TYPE(args[0], &ReadPacketType)) {
        PyErr_SetString(PyExc_TypeError, "send(packet: ReadPacket, now)");
        return NULL;
    }
    if (self->sink == NULL || !self->configured || self->sender == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the lane has no route or header yet");
        return NULL;
    }
    unsigned long long ntp = PyLong_AsUnsignedLongLong(args[1]);
    if (ntp == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    int sent = send_read_packet(self, (ReadPacket *)args[0], ntp);
    if (sent < 0)
        return NULL;
    return PyBool_FromLong(sent);
}

PyDoc_STRVAR(Lane_header_doc,
"header(marker, seq, timestamp, ntp_time, audio_level) -> bytes\n\n"
"The header this lane writes (header_writer's).");

static PyObject *
Lane_header(Lane *self, PyObject *args)
{
    int marker, seq;
    unsigned int ts;
    unsigned long long ntp;
    PyObject *level_object;
    if (!PyArg_ParseTuple(args, "iiIKO", &marker, &seq, &ts, &ntp, &level_object))
        return NULL;
    int level = 127;
    if (self->level_id && (level = level_byte(level_object)) < 0)
        return NULL;
    unsigned char out[LONGEST_HEADER];
    int length = write_header(self, out, marker & 1, seq & 0xFFFF, ts, ntp, level);
    return PyBytes_FromStringAndSize((const char *)out, length);
}

PyDoc_STRVAR(Lane_remember_doc,
"remember(seq, timestamp, now, header, payload)\n\n"
"A packet the Python path sent: kept for retransmission and counted.");

static PyObject *
Lane_remember(Lane *self, PyObject *args)
{
    int seq;
    unsigned int ts;
    unsigned long long ntp;
    Py_buffer header;
    PyObject *payload;
    if (self->sender == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the lane is not set up");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "iIKy*S", &seq, &ts, &ntp, &header, &payload))
        return NULL;
    if (header.len > LONGEST_HEADER) {
        PyBuffer_Release(&header);
        PyErr_SetString(PyExc_ValueError, "header is too long");
        return NULL;
    }
    int result = note_sent(self, header.buf, (int)header.len, payload, seq & 0xFFFF, ts, ntp);
    PyBuffer_Release(&header);
    if (result < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Lane_sent_doc,
"sent(seq) -> (header, payload) | None\n\n"
"The packet sent with ``seq``, as sent (unencrypted), if it is still kept.");

static PyObject *
Lane_sent(Lane *self, PyObject *arg)
{
    long seq = PyLong_AsLong(arg);
    if (seq == -1 && PyErr_Occurred())
        return NULL;
    if (seq < 0 || seq > 0xFFFF)
        Py_RETURN_NONE;
    Kept *kept = &self->kept[seq % HISTORY];
    if (kept->payload == NULL || kept->seq != seq)
        Py_RETURN_NONE;
    return Py_BuildValue("(y#O)", kept->header, (Py_ssize_t)kept->header_length,
                         kept->payload);
}

PyDoc_STRVAR(Lane_attach_doc,
"attach(sink, dtls, nominated, pair, transport, connected)\n\n"
"Send on ``sink`` from now on while dtls._state is ``connected``, nominated[1] is\n"
"``pair`` and ``transport`` is not closing.");

static PyObject *
Lane_attach(Lane *self, PyObject *args)
{
    PyObject *sink, *dtls, *nominated, *pair, *transport, *connected;
    if (!PyArg_ParseTuple(args, "O!OO!OOO", &SinkType, &sink, &dtls, &PyDict_Type, &nominated,
                          &pair, &transport, &connected))
        return NULL;
    if (!self->configured || self->sender == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the lane has no header yet");
        return NULL;
    }
    Lane_detach(self);
    self->sink = (Sink *)Py_NewRef(sink);
    self->dtls = Py_NewRef(dtls);
    self->nominated = Py_NewRef(nominated);
    self->pair = Py_NewRef(pair);
    self->transport = Py_NewRef(transport);
    self->connected = Py_NewRef(connected);
    Py_RETURN_NONE;
}

static PyObject *
Lane_detach_method(Lane *self, PyObject *unused)
{
    Lane_detach(self);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Lane_assign_doc,
"assign(source, seq_delta=0, ts_delta=0)\n\n"
"Send ``source``'s packets, their numbers and times moved by the deltas.");

static PyObject *
Lane_assign(Lane *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"source", "seq_delta", "ts_delta", NULL};
    PyObject *source;
    unsigned int seq_delta = 0, ts_delta = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|II", keywords, &source, &seq_delta,
                                     &ts_delta))
        return NULL;
    Py_XSETREF(self->source, Py_NewRef(source));
    self->seq_delta = seq_delta & 0xFFFF;
    self->ts_delta = ts_delta;
    Py_RETURN_NONE;
}

static PyObject *
Lane_last(Lane *self, PyObject *unused)
{
    if (!self->sent_any)
        Py_RETURN_NONE;
    return Py_BuildValue("(iIK)", self->last_seq, self->last_ts, self->last_ntp);
}

static PyObject *
Lane_get_attached(Lane *self, void *closure)
{
    return PyBool_FromLong(self->sink != NULL);
}

static PyMethodDef Lane_methods[] = {
    {"write", (PyCFunction)(void (*)(void))Lane_write, METH_FASTCALL, Lane_write_doc},
    {"send", (PyCFunction)(void (*)(void))Lane_send, METH_FASTCALL, Lane_send_doc},
    {"configure", (PyCFunction)(void (*)(void))Lane_configure, METH_VARARGS | METH_KEYWORDS,
     Lane_configure_doc},
    {"header", (PyCFunction)Lane_header, METH_VARARGS, Lane_header_doc},
    {"remember", (PyCFunction)Lane_remember, METH_VARARGS, Lane_remember_doc},
    {"sent", (PyCFunction)Lane_sent, METH_O, Lane_sent_doc},
    {"attach", (PyCFunction)Lane_attach, METH_VARARGS, Lane_attach_doc},
    {"detach", (PyCFunction)Lane_detach_method, METH_NOARGS, "Send through the fallback."},
    {"assign", (PyCFunction)(void (*)(void))Lane_assign, METH_VARARGS | METH_KEYWORDS,
     Lane_assign_doc},
    {"last", (PyCFunction)Lane_last, METH_NOARGS,
     "last() -> (seq, timestamp, ntp_time) of the last packet sent, or None"},
    {NULL}};

static PyMemberDef Lane_members[] = {
    {"source", T_OBJECT, offsetof(Lane, source), READONLY, "whose packets are sent"},
    {"seq_delta", T_UINT, offsetof(Lane, seq_delta), READONLY, NULL},
    {"ts_delta", T_UINT, offsetof(Lane, ts_delta), READONLY, NULL},
    {NULL}};

static PyGetSetDef Lane_getset[] = {
    {"attached", (getter)Lane_get_attached, NULL, "whether a route is attached", NULL},
    {NULL}};

static PyTypeObject LaneType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "prorenata.videomote.media._sendpath.Lane",
    .tp_doc = PyDoc_STR(
        "Lane(fallback, sender): one viewer's forwarded stream; forwarding.RtpRewriter's\n"
        "steady state in C (see write)."),
    .tp_basicsize = sizeof(Lane),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Lane_init,
    .tp_dealloc = (destructor)Lane_dealloc,
    .tp_traverse = (traverseproc)Lane_traverse,
    .tp_clear = (inquiry)Lane_clear,
    .tp_methods = Lane_methods,
    .tp_members = Lane_members,
    .tp_getset = Lane_getset,
};

static PyMethodDef module_methods[] = {
    {"read", (PyCFunction)(void (*)(void))read_packet, METH_FASTCALL, read_doc},
    {NULL}};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "prorenata.videomote.media._sendpath",
    .m_doc = "The media server's packet path in C: SRTP-unprotect and read; join, SRTP-protect, sendto.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__sendpath(void)
{
    if (PyType_Ready(&SinkType) < 0 || PyType_Ready(&ReaderType) < 0 ||
        PyType_Ready(&ReadPacketType) < 0 || PyType_Ready(&LaneType) < 0 ||
        receive_ready() < 0 || lean_ready() < 0)
        return NULL;
    str_state = PyUnicode_InternFromString("_state");
    str_tx_srtp = PyUnicode_InternFromString("_tx_srtp");
    str_get_write_buffer_size = PyUnicode_InternFromString("get_write_buffer_size");
    str_sendto = PyUnicode_InternFromString("sendto");
    str_fileno = PyUnicode_InternFromString("fileno");
    str_is_closing = PyUnicode_InternFromString("is_closing");
    str_ntp_timestamp = PyUnicode_InternFromString("_RTCRtpSender__ntp_timestamp");
    str_rtp_timestamp = PyUnicode_InternFromString("_RTCRtpSender__rtp_timestamp");
    str_octet_count = PyUnicode_InternFromString("_RTCRtpSender__octet_count");
    str_packet_count = PyUnicode_InternFromString("_RTCRtpSender__packet_count");
    one = PyLong_FromLong(1);
    if (!str_state || !str_tx_srtp || !str_get_write_buffer_size || !str_sendto || !str_fileno ||
        !str_is_closing || !str_ntp_timestamp || !str_rtp_timestamp ||
        !str_octet_count || !str_packet_count || !one)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&SinkType);
    if (PyModule_AddObject(m, "Sink", (PyObject *)&SinkType) < 0) {
        Py_DECREF(&SinkType);
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddObjectRef(m, "Reader", (PyObject *)&ReaderType) < 0 ||
        PyModule_AddObjectRef(m, "Lane", (PyObject *)&LaneType) < 0 ||
        PyModule_AddIntConstant(m, "HISTORY", HISTORY) < 0 ||
        PyModule_AddObjectRef(m, "ReadPacket", (PyObject *)&ReadPacketType) < 0 ||
        PyModule_AddIntConstant(m, "TRAILER", TRAILER) < 0 || receive_add(m) < 0 ||
        lean_add(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

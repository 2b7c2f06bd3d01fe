/* What the C files of the media server's packet path share (_sendpath.c: read, rewrite,
 * protect, send; _receive.c: the receiver's bookkeeping; _lean.c: the synthetic clients'). */
#ifndef VIDEOMOTE_SENDPATH_H
#define VIDEOMOTE_SENDPATH_H

#include <Python.h>

/* An incoming RTP packet as forwarding reads it: RtpPacket's attributes, of the header
 * extensions only the send time and the audio level; its own ``extensions``. */
typedef struct {
    PyObject_HEAD
    int marker;
    int payload_type;
    int sequence_number;
    unsigned int timestamp;
    unsigned int ssrc;
    PyObject *payload;
    PyObject *abs_send_time;
    PyObject *audio_level;
} ReadPacket;

extern PyTypeObject ReadPacketType;

/* _receive.c: make its types ready (0, or -1 with an exception) and add them to the
 * module. */
int receive_ready(void);
int receive_add(PyObject *module);

/* _lean.c (the synthetic clients' packet path): the same for its types. */
int lean_ready(void);
int lean_add(PyObject *module);

/* _sendpath.c's Sink for _lean.c: whether ``object`` is one; whether its socket is still
 * open (1, 0, -1 error); ``data`` SRTP-protected and sent by it (1 sent or queued, 0 the
 * kernel refused it, -1 error). */
int is_sink(PyObject *object);
int sink_open(PyObject *sink);
int sink_send(PyObject *sink, const unsigned char *data, Py_ssize_t size);

#endif

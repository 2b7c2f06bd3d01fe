/* What the two C files of the media server's packet path share (_sendpath.c: read,
 * rewrite, protect, send; _receive.c: the receiver's bookkeeping). */
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

#endif

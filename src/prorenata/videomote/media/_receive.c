/* The receiver's bookkeeping for every forwarded RTP packet, in C.
 *
 * Once the packet path itself was in C (_sendpath.c), what the server still did in Python
 * for each incoming packet was the receiver's bookkeeping: the statistics behind its
 * receiver reports, the NACK generator's note of the newest packet, the bandwidth estimate
 * (REMB) and the key frame test; a third of the server's CPU per forwarded stream. Here:
 *
 * - Tally: aiortc's StreamStatistics (rtcrtpreceiver.py) with the same attributes and
 *   properties, so aiortc's receiver reports and getStats read it as they read theirs.
 * - Estimator: the delay-based bandwidth estimate of remb.BandwidthEstimator (webrtc.org's
 *   inter-arrival groups, Kalman filter and overuse detector, as aiortc.rate has them),
 *   the same arithmetic in the same order on doubles, so every state is aiortc's to the
 *   last bit (compiled with -ffp-contract=off); only the rate control (once per 200-500
 *   ms) stays aiortc's Python AimdRateControl.
 * - Intake: one receiver's handler for the packets _sendpath.Reader read: the steps of
 *   forwarding.forward_packets' handler, in its order, calling back into Python only for
 *   what is rare (a gap to NACK, a REMB to send, a source seen again, RTX, packets aiortc
 *   parsed) and for handing the packet on.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <math.h>
#include <stdint.h>
#include <time.h>

#include "_sendpath.h"

typedef long long i64;

static PyObject *str_sequence_number, *str_timestamp, *str_enabled, *str_max_seq,
    *str_missing, *str_clock_rate, *str_update, *str_current_bitrate,
    *str_current_bitrate_initialized;

/* ---- Tally: aiortc's StreamStatistics ------------------------------------------------ */

#define PACKETS_LOST_MIN (-(1LL << 23))
#define PACKETS_LOST_MAX ((1LL << 23) - 1)

typedef struct {
    PyObject_HEAD
    int has_base, has_max, has_last_arrival, has_last_timestamp;
    i64 base_seq, max_seq, cycles, packets_received, clockrate, jitter_q4, last_arrival,
        last_timestamp, expected_prior, received_prior;
} Tally;

static int
Tally_init(Tally *self, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"clockrate", NULL};
    long long clockrate;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "L", keywords, &clockrate))
        return -1;
    self->has_base = self->has_max = self->has_last_arrival = self->has_last_timestamp = 0;
    self->base_seq = self->max_seq = self->cycles = self->packets_received = 0;
    self->jitter_q4 = self->last_arrival = self->last_timestamp = 0;
    self->expected_prior = self->received_prior = 0;
    self->clockrate = clockrate;
    return 0;
}

/* StreamStatistics.add for a packet with ``seq`` and ``timestamp`` arriving at ``arrival``
 * (in the clock's units: int(time.time() * clockrate)). */
static void
tally_add(Tally *self, i64 seq, i64 timestamp, i64 arrival)
{
    /* uint16_gt(seq, max_seq) */
    int in_order = !self->has_max ||
                   (seq > self->max_seq && seq - self->max_seq < 0x8000) ||
                   (seq < self->max_seq && self->max_seq - seq > 0x8000);
    self->packets_received += 1;
    if (!self->has_base) {
        self->base_seq = seq;
        self->has_base = 1;
    }
    if (!in_order)
        return;
    if (self->has_max && seq < self->max_seq)
        self->cycles += 1 << 16;
    self->max_seq = seq;
    self->has_max = 1;
    if ((!self->has_last_timestamp || timestamp != self->last_timestamp) &&
        self->packets_received > 1) {
        i64 diff = (arrival - self->last_arrival) - (timestamp - self->last_timestamp);
        if (diff < 0)
            diff = -diff;
        self->jitter_q4 += diff - ((self->jitter_q4 + 8) >> 4);
    }
    self->last_arrival = arrival;
    self->has_last_arrival = 1;
    self->last_timestamp = timestamp;
    self->has_last_timestamp = 1;
}

static i64
wall_clock_in(i64 clockrate)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (i64)(((double)now.tv_sec + (double)now.tv_nsec * 1e-9) * (double)clockrate);
}

static int
long_attribute(PyObject *object, PyObject *name, i64 *value)
{
    PyObject *attribute = PyObject_GetAttr(object, name);
    if (attribute == NULL)
        return -1;
    *value = PyLong_AsLongLong(attribute);
    Py_DECREF(attribute);
    return (*value == -1 && PyErr_Occurred()) ? -1 : 0;
}

static PyObject *
Tally_add(Tally *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "add(packet[, arrival])");
        return NULL;
    }
    i64 seq, timestamp, arrival;
    if (long_attribute(args[0], str_sequence_number, &seq) < 0 ||
        long_attribute(args[0], str_timestamp, &timestamp) < 0)
        return NULL;
    if (nargs == 2) {
        arrival = PyLong_AsLongLong(args[1]);
        if (arrival == -1 && PyErr_Occurred())
            return NULL;
    } else {
        arrival = wall_clock_in(self->clockrate);
    }
    tally_add(self, seq, timestamp, arrival);
    Py_RETURN_NONE;
}

static PyObject *
optional(int has, i64 value)
{
    if (!has)
        Py_RETURN_NONE;
    return PyLong_FromLongLong(value);
}

static PyObject *
Tally_get_base_seq(Tally *self, void *closure)
{
    return optional(self->has_base, self->base_seq);
}

static PyObject *
Tally_get_max_seq(Tally *self, void *closure)
{
    return optional(self->has_max, self->max_seq);
}

static PyObject *
Tally_get_last_arrival(Tally *self, void *closure)
{
    return optional(self->has_last_arrival, self->last_arrival);
}

static PyObject *
Tally_get_last_timestamp(Tally *self, void *closure)
{
    return optional(self->has_last_timestamp, self->last_timestamp);
}

static int
expected(Tally *self, i64 *value)
{
    if (!self->has_max || !self->has_base) {
        PyErr_SetString(PyExc_TypeError, "no packet counted yet");
        return -1;
    }
    *value = self->cycles + self->max_seq - self->base_seq + 1;
    return 0;
}

static PyObject *
Tally_get_packets_expected(Tally *self, void *closure)
{
    i64 value;
    return expected(self, &value) < 0 ? NULL : PyLong_FromLongLong(value);
}

static PyObject *
Tally_get_packets_lost(Tally *self, void *closure)
{
    i64 value;
    if (expected(self, &value) < 0)
        return NULL;
    value -= self->packets_received;
    if (value < PACKETS_LOST_MIN)
        value = PACKETS_LOST_MIN;
    if (value > PACKETS_LOST_MAX)
        value = PACKETS_LOST_MAX;
    return PyLong_FromLongLong(value);
}

/* As aiortc's property: reading it starts the next interval. */
static PyObject *
Tally_get_fraction_lost(Tally *self, void *closure)
{
    i64 packets_expected;
    if (expected(self, &packets_expected) < 0)
        return NULL;
    i64 expected_interval = packets_expected - self->expected_prior;
    self->expected_prior = packets_expected;
    i64 received_interval = self->packets_received - self->received_prior;
    self->received_prior = self->packets_received;
    i64 lost_interval = expected_interval - received_interval;
    if (expected_interval == 0 || lost_interval <= 0)
        return PyLong_FromLong(0);
    /* Python's // floors; both are positive here */
    return PyLong_FromLongLong((lost_interval << 8) / expected_interval);
}

static PyObject *
Tally_get_jitter(Tally *self, void *closure)
{
    return PyLong_FromLongLong(self->jitter_q4 >> 4);
}

static PyMethodDef Tally_methods[] = {
    {"add", (PyCFunction)(void (*)(void))Tally_add, METH_FASTCALL,
     "add(packet[, arrival]): count ``packet`` (arrival in clock units, default now)."},
    {NULL}};

static PyMemberDef Tally_members[] = {
    {"cycles", T_LONGLONG, offsetof(Tally, cycles), READONLY, NULL},
    {"packets_received", T_LONGLONG, offsetof(Tally, packets_received), READONLY, NULL},
    {"_clockrate", T_LONGLONG, offsetof(Tally, clockrate), READONLY, NULL},
    {"_jitter_q4", T_LONGLONG, offsetof(Tally, jitter_q4), READONLY, NULL},
    {"_expected_prior", T_LONGLONG, offsetof(Tally, expected_prior), READONLY, NULL},
    {"_received_prior", T_LONGLONG, offsetof(Tally, received_prior), READONLY, NULL},
    {NULL}};

static PyGetSetDef Tally_getset[] = {
    {"base_seq", (getter)Tally_get_base_seq, NULL, NULL, NULL},
    {"max_seq", (getter)Tally_get_max_seq, NULL, NULL, NULL},
    {"_last_arrival", (getter)Tally_get_last_arrival, NULL, NULL, NULL},
    {"_last_timestamp", (getter)Tally_get_last_timestamp, NULL, NULL, NULL},
    {"packets_expected", (getter)Tally_get_packets_expected, NULL, NULL, NULL},
    {"packets_lost", (getter)Tally_get_packets_lost, NULL, NULL, NULL},
    {"fraction_lost", (getter)Tally_get_fraction_lost, NULL, NULL, NULL},
    {"jitter", (getter)Tally_get_jitter, NULL, NULL, NULL},
    {NULL}};

static PyTypeObject TallyType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "prorenata.videomote.media._sendpath.Tally",
    .tp_doc = PyDoc_STR("Tally(clockrate): aiortc's StreamStatistics, in C."),
    .tp_basicsize = sizeof(Tally),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Tally_init,
    .tp_methods = Tally_methods,
    .tp_members = Tally_members,
    .tp_getset = Tally_getset,
};

/* ---- Estimator: the REMB estimate ---------------------------------------------------- */

/* aiortc.rate's constants */
#define RATE_WINDOW_MS 1000
#define FEEDBACK_INTERVAL_MS 500
#define REDUCE_INTERVAL_MS 200
#define BURST_DELTA_THRESHOLD_MS 5
#define MAX_ADAPT_OFFSET_MS 15
#define MIN_NUM_DELTAS 60
#define DELTA_COUNTER_MAX 1000
#define MIN_FRAME_PERIOD_HISTORY_LENGTH 60
#define INTER_ARRIVAL_SHIFT 26
#define TIMESTAMP_GROUP_LENGTH_MS 5
#define TIMESTAMP_TO_MS (1000.0 / (double)(1 << INTER_ARRIVAL_SHIFT))
#define GROUP_LENGTH (((i64)TIMESTAMP_GROUP_LENGTH_MS << INTER_ARRIVAL_SHIFT) / 1000)
#define HALF 0x80000000LL
#define MASK 0xFFFFFFFFLL
#define MOST_SSRCS 16
/* The packets of the last second, merged per millisecond: at most this many (an hour's
 * jump of the clock or a flood merges into the newest). */
#define MOST_MILLISECONDS 4096

enum { NORMAL = 0, UNDERUSING = 1, OVERUSING = 2 };

typedef struct {
    i64 ms, bytes;
} RateEntry;

typedef struct {
    PyObject_HEAD
    PyObject *rate_control; /* aiortc.rate.AimdRateControl */
    PyObject *usages;       /* (BandwidthUsage.NORMAL, .UNDERUSING, .OVERUSING) */
    /* the incoming bitrate */
    RateEntry *entries;
    int first, count;
    int has_origin, rate_valid;
    i64 bytes, origin_ms, newest_ms;
    /* inter-arrival groups */
    int has_first, has_previous;
    i64 first_ts, last_ts, arrival_ms, size, previous_ts, previous_arrival, previous_size;
    /* the Kalman filter (aiortc's OveruseEstimator) */
    double e00, e01, e10, e11, offset, filter_previous_offset, slope, avg_noise, var_noise,
        process_noise0, process_noise1;
    i64 num_of_deltas;
    double periods[MIN_FRAME_PERIOD_HISTORY_LENGTH];
    int periods_first, periods_count;
    /* the overuse detector (aiortc's OveruseDetector) */
    int hypothesis, has_threshold_update, has_overuse_time;
    i64 threshold_update_ms, overuse_counter;
    double k_up, k_down, overuse_time, overuse_time_threshold, detector_previous_offset,
        threshold;
    /* reports */
    int has_last_update;
    i64 last_update_ms;
    unsigned int ssrcs[MOST_SSRCS];
    int ssrc_count;
} Estimator;

static int
Estimator_init(Estimator *self, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"rate_control", "usages", NULL};
    PyObject *rate_control, *usages;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO!", keywords, &rate_control,
                                     &PyTuple_Type, &usages))
        return -1;
    if (PyTuple_GET_SIZE(usages) != 3) {
        PyErr_SetString(PyExc_ValueError, "usages: (NORMAL, UNDERUSING, OVERUSING)");
        return -1;
    }
    if (self->entries != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "an Estimator is set up once");
        return -1;
    }
    self->entries = PyMem_Calloc(MOST_MILLISECONDS, sizeof(RateEntry));
    if (self->entries == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Py_INCREF(rate_control);
    self->rate_control = rate_control;
    Py_INCREF(usages);
    self->usages = usages;
    self->first = self->count = 0;
    self->has_origin = 0;
    self->rate_valid = 1;
    self->bytes = self->origin_ms = self->newest_ms = 0;
    self->has_first = self->has_previous = 0;
    /* OveruseEstimator.__init__ */
    self->e00 = 100.0;
    self->e01 = 0.0;
    self->e10 = 0.0;
    self->e11 = 0.1;
    self->num_of_deltas = 0;
    self->offset = 0.0;
    self->filter_previous_offset = 0.0;
    self->slope = 1.0 / 64;
    self->avg_noise = 0.0;
    self->var_noise = 50.0;
    self->process_noise0 = 1e-13;
    self->process_noise1 = 1e-3;
    self->periods_first = self->periods_count = 0;
    /* OveruseDetector.__init__ */
    self->hypothesis = NORMAL;
    self->has_threshold_update = 0;
    self->k_up = 0.0087;
    self->k_down = 0.039;
    self->overuse_counter = 0;
    self->has_overuse_time = 0;
    self->overuse_time = 0.0;
    self->overuse_time_threshold = 10;
    self->detector_previous_offset = 0.0;
    self->threshold = 12.5;
    self->has_last_update = 0;
    self->ssrc_count = 0;
    return 0;
}

static int
Estimator_traverse(Estimator *self, visitproc visit, void *arg)
{
    Py_VISIT(self->rate_control);
    Py_VISIT(self->usages);
    return 0;
}

static int
Estimator_clear(Estimator *self)
{
    Py_CLEAR(self->rate_control);
    Py_CLEAR(self->usages);
    return 0;
}

static void
Estimator_dealloc(Estimator *self)
{
    PyObject_GC_UnTrack(self);
    Estimator_clear(self);
    PyMem_Free(self->entries);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static void
rate_clear(Estimator *self)
{
    self->first = self->count = 0;
    self->bytes = 0;
}

static void
rate_append(Estimator *self, i64 now, i64 size)
{
    if (self->count > 0) {
        RateEntry *newest = &self->entries[(self->first + self->count - 1) % MOST_MILLISECONDS];
        if (newest->ms == now || self->count == MOST_MILLISECONDS) {
            newest->bytes += size;
            return;
        }
    }
    RateEntry *entry = &self->entries[(self->first + self->count) % MOST_MILLISECONDS];
    entry->ms = now;
    entry->bytes = size;
    self->count += 1;
}

/* Bits per second over the last second (aiortc's RateCounter.rate); 0: none. */
static int
incoming_rate(Estimator *self, i64 now, i64 *rate)
{
    if (!self->has_origin)
        return 0;
    i64 oldest = now - RATE_WINDOW_MS + 1;
    if (self->origin_ms < oldest) {
        while (self->count > 0 && self->entries[self->first].ms < oldest) {
            self->bytes -= self->entries[self->first].bytes;
            self->first = (self->first + 1) % MOST_MILLISECONDS;
            self->count -= 1;
        }
        self->origin_ms = oldest;
    }
    i64 window = now - self->origin_ms + 1;
    if (self->count == 0 || window <= 1)
        return 0;
    *rate = (i64)nearbyint((double)(8000 * self->bytes) / (double)window);
    return 1;
}

static int
in_burst(Estimator *self, i64 timestamp, i64 arrival)
{
    i64 timestamp_delta_ms =
        (i64)nearbyint(TIMESTAMP_TO_MS * (double)((timestamp - self->last_ts) & MASK));
    i64 arrival_delta = arrival - self->arrival_ms;
    return timestamp_delta_ms == 0 ||
           (arrival_delta - timestamp_delta_ms < 0 && arrival_delta <= BURST_DELTA_THRESHOLD_MS);
}

/* 1 and the deltas between the last two complete groups when ``timestamp`` starts a new
 * group (aiortc's InterArrival), else 0. */
static int
group(Estimator *self, i64 timestamp, i64 arrival, i64 size, i64 deltas[3])
{
    int complete = 0;
    if (!self->has_first) {
        self->first_ts = self->last_ts = timestamp;
        self->has_first = 1;
        self->size = 0;
    } else if (((timestamp - self->first_ts) & MASK) >= HALF) {
        return 0; /* out of order: older than the group being collected */
    } else if (!in_burst(self, timestamp, arrival) &&
               ((timestamp - self->first_ts) & MASK) > GROUP_LENGTH) {
        if (self->has_previous) {
            deltas[0] = (self->last_ts - self->previous_ts) & MASK;
            deltas[1] = self->arrival_ms - self->previous_arrival;
            deltas[2] = self->size - self->previous_size;
            complete = 1;
        }
        self->previous_ts = self->last_ts;
        self->previous_arrival = self->arrival_ms;
        self->previous_size = self->size;
        self->has_previous = 1;
        self->first_ts = self->last_ts = timestamp;
        self->size = 0;
    } else {
        i64 ahead = (timestamp - self->last_ts) & MASK;
        if (0 < ahead && ahead < HALF)
            self->last_ts = timestamp;
    }
    self->size += size;
    self->arrival_ms = arrival;
    return complete;
}

static double
min_frame_period(Estimator *self, double ts_delta)
{
    double smallest = ts_delta;
    if (self->periods_count >= MIN_FRAME_PERIOD_HISTORY_LENGTH) {
        self->periods_first = (self->periods_first + 1) % MIN_FRAME_PERIOD_HISTORY_LENGTH;
        self->periods_count -= 1;
    }
    if (self->periods_count > 0) {
        smallest = self->periods[self->periods_first];
        for (int i = 1; i < self->periods_count; i++) {
            double period = self->periods[(self->periods_first + i) % MIN_FRAME_PERIOD_HISTORY_LENGTH];
            if (period < smallest)
                smallest = period;
        }
        if (ts_delta < smallest)
            smallest = ts_delta;
    }
    self->periods[(self->periods_first + self->periods_count) % MIN_FRAME_PERIOD_HISTORY_LENGTH] =
        ts_delta;
    self->periods_count += 1;
    return smallest;
}

static void
update_noise_estimate(Estimator *self, double residual, double ts_delta)
{
    double alpha = self->num_of_deltas > 10 * 30 ? 0.002 : 0.01;
    double beta = pow(1 - alpha, ts_delta * 30.0 / 1000.0);
    self->avg_noise = beta * self->avg_noise + (1 - beta) * residual;
    self->var_noise = beta * self->var_noise + (1 - beta) * pow(self->avg_noise - residual, 2);
    if (self->var_noise < 1)
        self->var_noise = 1;
}

/* remb._KalmanFilter.update (aiortc's OveruseEstimator.update), in its order. */
static void
filter_update(Estimator *self, i64 time_delta_ms, double timestamp_delta_ms, i64 size_delta)
{
    double smallest = min_frame_period(self, timestamp_delta_ms);
    double t_ts_delta = (double)time_delta_ms - timestamp_delta_ms;
    self->num_of_deltas += 1;
    if (self->num_of_deltas > DELTA_COUNTER_MAX)
        self->num_of_deltas = DELTA_COUNTER_MAX;
    double e00 = self->e00, e01 = self->e01, e10 = self->e10, e11 = self->e11;
    e00 += self->process_noise0;
    e11 += self->process_noise1;
    double offset = self->offset;
    if ((self->hypothesis == OVERUSING && offset < self->filter_previous_offset) ||
        (self->hypothesis == UNDERUSING && offset > self->filter_previous_offset))
        e11 += 10 * self->process_noise1;
    double h0 = (double)size_delta;
    double eh0 = e00 * h0 + e01;
    double eh1 = e10 * h0 + e11;
    double residual = t_ts_delta - self->slope * h0 - offset;
    if (self->hypothesis == NORMAL) {
        double max_residual = 3.0 * sqrt(self->var_noise);
        if (fabs(residual) < max_residual)
            update_noise_estimate(self, residual, smallest);
        else
            update_noise_estimate(self, residual < 0 ? -max_residual : max_residual, smallest);
    }
    double denom = self->var_noise + h0 * eh0 + eh1;
    double k0 = eh0 / denom;
    double k1 = eh1 / denom;
    double ikh00 = 1.0 - k0 * h0;
    double ikh01 = -k0;
    double ikh10 = -k1 * h0;
    double ikh11 = 1.0 - k1;
    self->e00 = e00 * ikh00 + e10 * ikh01;
    self->e01 = e01 * ikh00 + e11 * ikh01;
    self->e10 = e00 * ikh10 + e10 * ikh11;
    self->e11 = e01 * ikh10 + e11 * ikh11;
    self->filter_previous_offset = offset;
    self->slope += k0 * residual;
    self->offset = offset + k1 * residual;
}

/* aiortc's OveruseDetector.update_threshold */
static void
update_threshold(Estimator *self, double modified_offset, i64 now)
{
    if (!self->has_threshold_update) {
        self->threshold_update_ms = now;
        self->has_threshold_update = 1;
    }
    double size = fabs(modified_offset);
    if (size > self->threshold + MAX_ADAPT_OFFSET_MS) {
        self->threshold_update_ms = now;
        return;
    }
    double k = size < self->threshold ? self->k_down : self->k_up;
    i64 time_delta_ms = now - self->threshold_update_ms;
    if (time_delta_ms > 100)
        time_delta_ms = 100;
    self->threshold += k * (size - self->threshold) * (double)time_delta_ms;
    if (self->threshold > 600)
        self->threshold = 600;
    if (self->threshold < 6)
        self->threshold = 6;
    self->threshold_update_ms = now;
}

/* aiortc's OveruseDetector.detect */
static void
detect(Estimator *self, double timestamp_delta_ms, i64 now)
{
    if (self->num_of_deltas < 2)
        return;
    double offset = self->offset;
    double modified =
        (double)(self->num_of_deltas < MIN_NUM_DELTAS ? self->num_of_deltas : MIN_NUM_DELTAS) *
        offset;
    if (modified > self->threshold) {
        if (!self->has_overuse_time) {
            self->overuse_time = timestamp_delta_ms / 2;
            self->has_overuse_time = 1;
        } else {
            self->overuse_time += timestamp_delta_ms;
        }
        self->overuse_counter += 1;
        if (self->overuse_time > self->overuse_time_threshold && self->overuse_counter > 1 &&
            offset >= self->detector_previous_offset) {
            self->overuse_counter = 0;
            self->overuse_time = 0;
            self->hypothesis = OVERUSING;
        }
    } else if (modified < -self->threshold) {
        self->overuse_counter = 0;
        self->has_overuse_time = 0;
        self->hypothesis = UNDERUSING;
    } else {
        self->overuse_counter = 0;
        self->has_overuse_time = 0;
        self->hypothesis = NORMAL;
    }
    self->detector_previous_offset = offset;
    update_threshold(self, modified, now);
}

static int
fallen_below_half(Estimator *self, int has_incoming, i64 incoming)
{
    if (!has_incoming)
        return 0;
    PyObject *initialized =
        PyObject_GetAttr(self->rate_control, str_current_bitrate_initialized);
    if (initialized == NULL)
        return -1;
    int truth = PyObject_IsTrue(initialized);
    Py_DECREF(initialized);
    if (truth <= 0)
        return truth;
    i64 current;
    if (long_attribute(self->rate_control, str_current_bitrate, &current) < 0)
        return -1;
    return incoming * 2 < current;
}

/* The SSRCs seen, in the order they came (at most MOST_SSRCS): a new list. */
static PyObject *
ssrc_list(Estimator *self)
{
    PyObject *ssrcs = PyList_New(self->ssrc_count);
    for (int i = 0; ssrcs != NULL && i < self->ssrc_count; i++) {
        PyObject *value = PyLong_FromUnsignedLong(self->ssrcs[i]);
        if (value == NULL)
            Py_CLEAR(ssrcs);
        else
            PyList_SET_ITEM(ssrcs, i, value);
    }
    return ssrcs;
}

/* remb.BandwidthEstimator.add: None, or (bitrate, ssrcs) when a REMB should be sent.
 * NULL with an exception set. */
static PyObject *
estimator_add(Estimator *self, i64 now, i64 abs_send_time, i64 payload_size,
              unsigned int ssrc)
{
    if (self->entries == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the Estimator is not set up");
        return NULL;
    }
    int known = 0;
    for (int i = 0; i < self->ssrc_count; i++)
        if (self->ssrcs[i] == ssrc) {
            known = 1;
            break;
        }
    if (!known && self->ssrc_count < MOST_SSRCS)
        self->ssrcs[self->ssrc_count++] = ssrc;
    /* The incoming bitrate: aiortc asks its counter for the rate on every packet only to
     * start it afresh when there is none; the same answer, without the rate each time. */
    if (self->has_origin && self->newest_ms > now - RATE_WINDOW_MS && self->origin_ms < now) {
        self->rate_valid = 1;
    } else if (self->rate_valid) {
        rate_clear(self);
        self->has_origin = 0;
        self->rate_valid = 0;
    }
    if (!self->has_origin) {
        self->origin_ms = now;
        self->has_origin = 1;
    }
    rate_append(self, now, payload_size);
    self->bytes += payload_size;
    self->newest_ms = now;

    i64 deltas[3];
    if (group(self, (abs_send_time & 0xFFFFFF) << 8, now, payload_size, deltas)) {
        double timestamp_delta_ms = (double)deltas[0] * TIMESTAMP_TO_MS;
        filter_update(self, deltas[1], timestamp_delta_ms, deltas[2]);
        detect(self, timestamp_delta_ms, now);
    }

    i64 incoming = 0;
    int has_incoming;
    if (!self->has_last_update || now - self->last_update_ms > FEEDBACK_INTERVAL_MS) {
        has_incoming = incoming_rate(self, now, &incoming);
    } else if (self->hypothesis == OVERUSING) {
        has_incoming = incoming_rate(self, now, &incoming);
        if (now - self->last_update_ms < REDUCE_INTERVAL_MS) {
            int fallen = fallen_below_half(self, has_incoming, incoming);
            if (fallen < 0)
                return NULL;
            if (!fallen)
                Py_RETURN_NONE;
        }
    } else {
        Py_RETURN_NONE;
    }
    PyObject *rate = has_incoming ? PyLong_FromLongLong(incoming) : Py_NewRef(Py_None);
    PyObject *when = PyLong_FromLongLong(now);
    PyObject *bitrate = NULL;
    if (rate != NULL && when != NULL)
        bitrate = PyObject_CallMethodObjArgs(self->rate_control, str_update,
                                             PyTuple_GET_ITEM(self->usages, self->hypothesis),
                                             rate, when, NULL);
    Py_XDECREF(rate);
    Py_XDECREF(when);
    if (bitrate == NULL || bitrate == Py_None)
        return bitrate;
    self->last_update_ms = now;
    self->has_last_update = 1;
    PyObject *ssrcs = ssrc_list(self);
    PyObject *estimate = ssrcs == NULL ? NULL : PyTuple_Pack(2, bitrate, ssrcs);
    Py_DECREF(bitrate);
    Py_XDECREF(ssrcs);
    return estimate;
}

static PyObject *
Estimator_add(Estimator *self, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"arrival_time_ms", "abs_send_time", "payload_size", "ssrc", NULL};
    long long arrival, payload_size;
    unsigned long long abs_send_time; /* its 24 bits count */
    unsigned long ssrc;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "LKLk", keywords, &arrival, &abs_send_time,
                                     &payload_size, &ssrc))
        return NULL;
    return estimator_add(self, arrival, (i64)(abs_send_time & 0xFFFFFF), payload_size,
                         (unsigned int)ssrc);
}

static PyObject *
Estimator_incoming_rate(Estimator *self, PyObject *now)
{
    i64 when = PyLong_AsLongLong(now), rate;
    if (when == -1 && PyErr_Occurred())
        return NULL;
    if (!incoming_rate(self, when, &rate))
        Py_RETURN_NONE;
    return PyLong_FromLongLong(rate);
}

static PyObject *
Estimator_get_hypothesis(Estimator *self, void *closure)
{
    if (self->usages == NULL)
        Py_RETURN_NONE;
    return Py_NewRef(PyTuple_GET_ITEM(self->usages, self->hypothesis));
}

static PyObject *
Estimator_get_ssrcs(Estimator *self, void *closure)
{
    return ssrc_list(self);
}

static PyMethodDef Estimator_methods[] = {
    {"add", (PyCFunction)(void (*)(void))Estimator_add, METH_VARARGS | METH_KEYWORDS,
     "add(arrival_time_ms, abs_send_time, payload_size, ssrc): None, or (bitrate, ssrcs) "
     "when a REMB should be sent."},
    {"incoming_rate", (PyCFunction)Estimator_incoming_rate, METH_O,
     "incoming_rate(now_ms): bits per second over the last second, or None."},
    {NULL}};

static PyMemberDef Estimator_members[] = {
    {"rate_control", T_OBJECT, offsetof(Estimator, rate_control), READONLY, NULL},
    {"offset", T_DOUBLE, offsetof(Estimator, offset), READONLY, "the Kalman filter's delay offset"},
    {"slope", T_DOUBLE, offsetof(Estimator, slope), READONLY, NULL},
    {"var_noise", T_DOUBLE, offsetof(Estimator, var_noise), READONLY, NULL},
    {"num_of_deltas", T_LONGLONG, offsetof(Estimator, num_of_deltas), READONLY, NULL},
    {"threshold", T_DOUBLE, offsetof(Estimator, threshold), READONLY, "the detector's"},
    {NULL}};

static PyGetSetDef Estimator_getset[] = {
    {"hypothesis", (getter)Estimator_get_hypothesis, NULL, "the detector's BandwidthUsage", NULL},
    {"ssrcs", (getter)Estimator_get_ssrcs, NULL, "the SSRCs seen (at most 16)", NULL},
    {NULL}};

static PyTypeObject EstimatorType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "prorenata.videomote.media._sendpath.Estimator",
    .tp_doc = PyDoc_STR("Estimator(rate_control, usages): the REMB estimate (remb.py)."),
    .tp_basicsize = sizeof(Estimator),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Estimator_init,
    .tp_traverse = (traverseproc)Estimator_traverse,
    .tp_clear = (inquiry)Estimator_clear,
    .tp_dealloc = (destructor)Estimator_dealloc,
    .tp_methods = Estimator_methods,
    .tp_members = Estimator_members,
    .tp_getset = Estimator_getset,
};

/* ---- Intake: one receiver's packets -------------------------------------------------- */

#define SOURCES 8
#define ACTIVE_INTERVAL_MS 1000

enum { KIND_UNKNOWN = 0, KIND_MEDIA = 1, KIND_RTX = 2 };

typedef struct {
    PyObject_HEAD
    PyObject *receiver, *estimator, *codecs, *streams, *nacks, *on_packet, *slow, *send_remb,
        *note_active, *request_missing, *is_rtx;
    int video;
    signed char kinds[128];
    unsigned int sources[SOURCES];
    i64 seen_ms[SOURCES];
    int source_count, source_next;
    unsigned int tally_ssrc;
    PyObject *tally;
} Intake;

static int
Intake_init(Intake *self, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"receiver", "estimator", "codecs", "streams", "nacks",
                               "video", "on_packet", "slow", "send_remb", "note_active",
                               "request_missing", "is_rtx", NULL};
    PyObject *receiver, *estimator, *codecs, *streams, *nacks, *on_packet, *slow, *send_remb,
        *note_active, *request_missing, *is_rtx;
    int video;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "$OOO!O!OpOOOOOO", keywords, &receiver,
                                     &estimator, &PyDict_Type, &codecs, &PyDict_Type, &streams,
                                     &nacks, &video, &on_packet, &slow, &send_remb, &note_active,
                                     &request_missing, &is_rtx))
        return -1;
    if (self->receiver != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "an Intake is set up once");
        return -1;
    }
    if (estimator != Py_None && !PyObject_TypeCheck(estimator, &EstimatorType)) {
        PyErr_SetString(PyExc_TypeError, "estimator: an Estimator or None");
        return -1;
    }
    self->receiver = Py_NewRef(receiver);
    self->estimator = estimator == Py_None ? NULL : Py_NewRef(estimator);
    self->codecs = Py_NewRef(codecs);
    self->streams = Py_NewRef(streams);
    self->nacks = nacks == Py_None ? NULL : Py_NewRef(nacks);
    self->on_packet = Py_NewRef(on_packet);
    self->slow = Py_NewRef(slow);
    self->send_remb = Py_NewRef(send_remb);
    self->note_active = Py_NewRef(note_active);
    self->request_missing = Py_NewRef(request_missing);
    self->is_rtx = Py_NewRef(is_rtx);
    self->video = video;
    memset(self->kinds, KIND_UNKNOWN, sizeof(self->kinds));
    self->source_count = self->source_next = 0;
    self->tally = NULL;
    return 0;
}

static int
Intake_traverse(Intake *self, visitproc visit, void *arg)
{
    Py_VISIT(self->receiver);
    Py_VISIT(self->estimator);
    Py_VISIT(self->codecs);
    Py_VISIT(self->streams);
    Py_VISIT(self->nacks);
    Py_VISIT(self->on_packet);
    Py_VISIT(self->slow);
    Py_VISIT(self->send_remb);
    Py_VISIT(self->note_active);
    Py_VISIT(self->request_missing);
    Py_VISIT(self->is_rtx);
    Py_VISIT(self->tally);
    return 0;
}

static int
Intake_clear(Intake *self)
{
    Py_CLEAR(self->receiver);
    Py_CLEAR(self->estimator);
    Py_CLEAR(self->codecs);
    Py_CLEAR(self->streams);
    Py_CLEAR(self->nacks);
    Py_CLEAR(self->on_packet);
    Py_CLEAR(self->slow);
    Py_CLEAR(self->send_remb);
    Py_CLEAR(self->note_active);
    Py_CLEAR(self->request_missing);
    Py_CLEAR(self->is_rtx);
    Py_CLEAR(self->tally);
    return 0;
}

static void
Intake_dealloc(Intake *self)
{
    PyObject_GC_UnTrack(self);
    Intake_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* RFC 7741 4.2 and RFC 6386 9.1, as forwarding.starts_vp8_keyframe reads them. */
static int
starts_vp8_keyframe(PyObject *payload)
{
    const unsigned char *data = (const unsigned char *)PyBytes_AS_STRING(payload);
    Py_ssize_t size = PyBytes_GET_SIZE(payload);
    if (size < 2 || (data[0] & 0x17) != 0x10)
        return 0;
    Py_ssize_t position = 1;
    if (data[0] & 0x80) {
        unsigned char extension = data[1];
        position = 2;
        if ((extension & 0x80) && position < size)
            position += (data[position] & 0x80) ? 2 : 1;
        if (extension & 0x40)
            position += 1;
        if (extension & 0x30)
            position += 1;
    }
    return position < size && !(data[position] & 0x01);
}

/* The codec kind of ``payload_type``: KIND_MEDIA, KIND_RTX, KIND_UNKNOWN (no codec yet),
 * or -1 with an exception set; the codec in ``*codec`` (a new reference, or NULL). */
static int
kind_of(Intake *self, int payload_type, PyObject **codec)
{
    PyObject *key = PyLong_FromLong(payload_type);
    if (key == NULL)
        return -1;
    *codec = Py_XNewRef(PyDict_GetItemWithError(self->codecs, key));
    Py_DECREF(key);
    if (*codec == NULL)
        return PyErr_Occurred() ? -1 : KIND_UNKNOWN;
    if (self->kinds[payload_type] == KIND_UNKNOWN) {
        PyObject *rtx = PyObject_CallOneArg(self->is_rtx, *codec);
        int truth = rtx == NULL ? -1 : PyObject_IsTrue(rtx);
        Py_XDECREF(rtx);
        if (truth < 0) {
            Py_CLEAR(*codec);
            return -1;
        }
        self->kinds[payload_type] = truth ? KIND_RTX : KIND_MEDIA;
    }
    return self->kinds[payload_type];
}

/* getSynchronizationSources: a source seen is noted once a second. */
static int
note_source(Intake *self, unsigned int ssrc, i64 arrival)
{
    int index = -1;
    for (int i = 0; i < self->source_count; i++)
        if (self->sources[i] == ssrc) {
            index = i;
            break;
        }
    if (index < 0) {
        if (self->source_count < SOURCES) {
            index = self->source_count++;
        } else {
            index = self->source_next;
            self->source_next = (self->source_next + 1) % SOURCES;
        }
        self->sources[index] = ssrc;
        self->seen_ms[index] = 0;
    }
    if (arrival - self->seen_ms[index] < ACTIVE_INTERVAL_MS)
        return 0;
    self->seen_ms[index] = arrival;
    PyObject *source = PyLong_FromUnsignedLong(ssrc);
    if (source == NULL)
        return -1;
    PyObject *result = PyObject_CallOneArg(self->note_active, source);
    Py_DECREF(source);
    Py_XDECREF(result);
    return result == NULL ? -1 : 0;
}

/* A new Tally carrying on from ``statistics`` (aiortc's StreamStatistics, or anything
 * with its attributes). */
static PyObject *
tally_adopting(PyObject *statistics)
{
    static const char *names[] = {"_clockrate", "base_seq", "max_seq", "cycles",
                                  "packets_received", "_jitter_q4", "_last_arrival",
                                  "_last_timestamp", "_expected_prior", "_received_prior"};
    i64 values[10];
    int present[10];
    for (int i = 0; i < 10; i++) {
        PyObject *value = PyObject_GetAttrString(statistics, names[i]);
        if (value == NULL)
            return NULL;
        present[i] = value != Py_None;
        values[i] = present[i] ? PyLong_AsLongLong(value) : 0;
        Py_DECREF(value);
        if (values[i] == -1 && PyErr_Occurred())
            return NULL;
    }
    Tally *tally = PyObject_New(Tally, &TallyType);
    if (tally == NULL)
        return NULL;
    tally->clockrate = values[0];
    tally->has_base = present[1];
    tally->base_seq = values[1];
    tally->has_max = present[2];
    tally->max_seq = values[2];
    tally->cycles = values[3];
    tally->packets_received = values[4];
    tally->jitter_q4 = values[5];
    tally->has_last_arrival = present[6];
    tally->last_arrival = values[6];
    tally->has_last_timestamp = present[7];
    tally->last_timestamp = values[7];
    tally->expected_prior = values[8];
    tally->received_prior = values[9];
    return (PyObject *)tally;
}

/* The Tally of ``ssrc`` (borrowed), made for ``codec``'s clock rate when it is new. */
static Tally *
tally_for(Intake *self, unsigned int ssrc, PyObject *codec)
{
    if (self->tally != NULL && self->tally_ssrc == ssrc)
        return (Tally *)self->tally;
    PyObject *key = PyLong_FromUnsignedLong(ssrc);
    if (key == NULL)
        return NULL;
    PyObject *tally = PyDict_GetItemWithError(self->streams, key);
    if (tally == NULL && PyErr_Occurred()) {
        Py_DECREF(key);
        return NULL;
    }
    if (tally == NULL) {
        PyObject *clock_rate = PyObject_GetAttr(codec, str_clock_rate);
        if (clock_rate != NULL) {
            tally = PyObject_CallOneArg((PyObject *)&TallyType, clock_rate);
            Py_DECREF(clock_rate);
        }
        if (tally == NULL || PyDict_SetItem(self->streams, key, tally) < 0) {
            Py_XDECREF(tally);
            Py_DECREF(key);
            return NULL;
        }
        Py_DECREF(tally); /* the dict keeps it */
    }
    if (Py_TYPE(tally) != &TallyType) {
        /* aiortc's own handler began these (packets before the direct path was set up) */
        PyObject *began = Py_NewRef(tally);
        tally = tally_adopting(began);
        Py_DECREF(began);
        if (tally == NULL || PyDict_SetItem(self->streams, key, tally) < 0) {
            Py_XDECREF(tally);
            Py_DECREF(key);
            return NULL;
        }
        Py_DECREF(tally); /* the dict keeps it */
    }
    Py_DECREF(key);
    Py_XSETREF(self->tally, Py_NewRef(tally));
    self->tally_ssrc = ssrc;
    return (Tally *)tally;
}

/* NackGenerator.add's answer for the next packet in order with nothing missing (the
 * newest number moves on); anything else is the generator's own (request_missing). */
static int
note_sequence(Intake *self, ReadPacket *packet)
{
    PyObject *last = PyObject_GetAttr(self->nacks, str_max_seq);
    if (last == NULL)
        return -1;
    int in_order = 0;
    if (last != Py_None) {
        long value = PyLong_AsLong(last);
        if (value == -1 && PyErr_Occurred()) {
            Py_DECREF(last);
            return -1;
        }
        in_order = packet->sequence_number == ((value + 1) & 0xFFFF);
    }
    Py_DECREF(last);
    if (in_order) {
        PyObject *missing = PyObject_GetAttr(self->nacks, str_missing);
        if (missing == NULL)
            return -1;
        in_order = PyAnySet_Check(missing) && PySet_GET_SIZE(missing) == 0;
        Py_DECREF(missing);
    }
    PyObject *result;
    if (in_order) {
        PyObject *seq = PyLong_FromLong(packet->sequence_number);
        if (seq == NULL)
            return -1;
        int status = PyObject_SetAttr(self->nacks, str_max_seq, seq);
        Py_DECREF(seq);
        return status;
    }
    result = PyObject_CallOneArg(self->request_missing, (PyObject *)packet);
    Py_XDECREF(result);
    return result == NULL ? -1 : 0;
}

static PyObject *
Intake_take(Intake *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "take(packet, arrival_time_ms)");
        return NULL;
    }
    if (self->receiver == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the Intake is not set up");
        return NULL;
    }
    PyObject *object = args[0];
    if (Py_TYPE(object) != &ReadPacketType || !PyBytes_CheckExact(((ReadPacket *)object)->payload))
        return PyObject_Vectorcall(self->slow, args, 2, NULL);
    ReadPacket *packet = (ReadPacket *)object;
    i64 arrival = PyLong_AsLongLong(args[1]);
    if (arrival == -1 && PyErr_Occurred())
        return NULL;

    PyObject *enabled = PyObject_GetAttr(self->receiver, str_enabled);
    if (enabled == NULL)
        return NULL;
    int truth = PyObject_IsTrue(enabled);
    Py_DECREF(enabled);
    if (truth <= 0)
        return truth < 0 ? NULL : Py_NewRef(Py_None);

    PyObject *codec;
    int kind = kind_of(self, packet->payload_type & 0x7F, &codec);
    if (kind < 0)
        return NULL;
    if (kind != KIND_MEDIA) { /* no codec (yet), or a retransmission: aiortc's parts */
        Py_XDECREF(codec);
        return PyObject_Vectorcall(self->slow, args, 2, NULL);
    }

    PyObject *result = NULL;
    if (self->estimator != NULL && packet->abs_send_time != Py_None) {
        /* 24 bits (aiortc reads three bytes; the reader takes what the element has) */
        i64 send_time = (i64)(PyLong_AsUnsignedLongLongMask(packet->abs_send_time) & 0xFFFFFF);
        if (PyErr_Occurred())
            goto done;
        PyObject *estimate = estimator_add((Estimator *)self->estimator, arrival, send_time,
                                           PyBytes_GET_SIZE(packet->payload), packet->ssrc);
        if (estimate == NULL)
            goto done;
        if (estimate != Py_None) {
            PyObject *sent = PyObject_CallOneArg(self->send_remb, estimate);
            Py_DECREF(estimate);
            if (sent == NULL)
                goto done;
            Py_DECREF(sent);
        } else {
            Py_DECREF(estimate);
        }
    }
    if (note_source(self, packet->ssrc, arrival) < 0)
        goto done;
    Tally *tally = tally_for(self, packet->ssrc, codec);
    if (tally == NULL)
        goto done;
    tally_add(tally, packet->sequence_number, packet->timestamp, wall_clock_in(tally->clockrate));
    if (self->nacks != NULL && note_sequence(self, packet) < 0)
        goto done;
    PyObject *call[2] = {object, (!self->video || starts_vp8_keyframe(packet->payload))
                                     ? Py_True : Py_False};
    result = PyObject_Vectorcall(self->on_packet, call, 2, NULL);
done:
    Py_DECREF(codec);
    return result;
}

static PyMethodDef Intake_methods[] = {
    {"take", (PyCFunction)(void (*)(void))Intake_take, METH_FASTCALL,
     "take(packet, arrival_time_ms): the receiver's bookkeeping for ``packet``, then "
     "on_packet(packet, keyframe)."},
    {NULL}};

static PyTypeObject IntakeType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "prorenata.videomote.media._sendpath.Intake",
    .tp_doc = PyDoc_STR("Intake(*, receiver, estimator, codecs, streams, nacks, video, "
                        "on_packet, slow, send_remb, note_active, request_missing, is_rtx)"),
    .tp_basicsize = sizeof(Intake),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Intake_init,
    .tp_traverse = (traverseproc)Intake_traverse,
    .tp_clear = (inquiry)Intake_clear,
    .tp_dealloc = (destructor)Intake_dealloc,
    .tp_methods = Intake_methods,
};

/* ---- Port: incoming datagrams, off the socket --------------------------------------- */

#define NTP_EPOCH_OFFSET 2208988800.0

/* aiortc's arrival clock: milliseconds since the NTP epoch (forwarding._now_ms). */
static i64
now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (i64)(((double)now.tv_sec + (double)now.tv_nsec * 1e-9 + NTP_EPOCH_OFFSET) * 1000);
}

static PyObject *str_rx_srtp, *str_extensions_map, *str_ids, *str_abs_send_time,
    *str_audio_level, *str_rtp_router, *str_ssrc_table, *str_payload_type_table, *str_read,
    *str_route_rtp, *str_owner, *str_direct_handler;

typedef struct {
    PyObject_HEAD
    PyObject *dtls;       /* aiortc's RTCDtlsTransport */
    PyObject *stock;      /* the socket's own datagram_received(data, addr) */
    PyObject *connection; /* the connection's own data_received(data, component) */
    PyObject *component;  /* this socket's ICE component (an int) */
    PyObject *reader_for; /* reader_for(session) -> _sendpath.Reader */
    PyObject *parse;      /* parse(clear bytes, extensions map) -> RtpPacket */
    PyObject *report;     /* report(exception): a packet's handler failed */
    PyObject *reader;
} Port;

static int
Port_init(Port *self, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"dtls", "stock", "connection", "component", "reader_for",
                               "parse", "report", NULL};
    PyObject *dtls, *stock, *connection, *component, *reader_for, *parse, *report;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "$OOOO!OOO", keywords, &dtls, &stock,
                                     &connection, &PyLong_Type, &component, &reader_for,
                                     &parse, &report))
        return -1;
    if (self->dtls != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "a Port is set up once");
        return -1;
    }
    self->dtls = Py_NewRef(dtls);
    self->stock = Py_NewRef(stock);
    self->connection = Py_NewRef(connection);
    self->component = Py_NewRef(component);
    self->reader_for = Py_NewRef(reader_for);
    self->parse = Py_NewRef(parse);
    self->report = Py_NewRef(report);
    self->reader = NULL;
    return 0;
}

static int
Port_traverse(Port *self, visitproc visit, void *arg)
{
    Py_VISIT(self->dtls);
    Py_VISIT(self->stock);
    Py_VISIT(self->connection);
    Py_VISIT(self->component);
    Py_VISIT(self->reader_for);
    Py_VISIT(self->parse);
    Py_VISIT(self->report);
    Py_VISIT(self->reader);
    return 0;
}

static int
Port_clear(Port *self)
{
    Py_CLEAR(self->dtls);
    Py_CLEAR(self->stock);
    Py_CLEAR(self->connection);
    Py_CLEAR(self->component);
    Py_CLEAR(self->reader_for);
    Py_CLEAR(self->parse);
    Py_CLEAR(self->report);
    Py_CLEAR(self->reader);
    return 0;
}

static void
Port_dealloc(Port *self)
{
    PyObject_GC_UnTrack(self);
    Port_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* An extension's negotiated ID (0: none), from aiortc's HeaderExtensions ``ids``. */
static int
extension_id(PyObject *ids, PyObject *name, long *id)
{
    PyObject *value = PyObject_GetAttr(ids, name);
    if (value == NULL)
        return -1;
    *id = value == Py_None ? 0 : PyLong_AsLong(value);
    Py_DECREF(value);
    return (*id == -1 && PyErr_Occurred()) ? -1 : 0;
}

/* ``packet`` read (ReadPacket, or RtpPacket when aiortc had to parse it), new reference;
 * Py_None: dropped (libsrtp refused it, or it cannot be parsed: what aiortc does too);
 * NULL with an exception set. */
static PyObject *
port_read(Port *self, PyObject *srtp, PyObject *data)
{
    int fresh = self->reader == NULL;
    if (!fresh) {
        PyObject *owner = PyObject_GetAttr(self->reader, str_owner);
        if (owner == NULL)
            return NULL;
        fresh = owner != srtp;
        Py_DECREF(owner);
    }
    if (fresh) {
        Py_XSETREF(self->reader, PyObject_CallOneArg(self->reader_for, srtp));
        if (self->reader == NULL)
            return NULL;
    }
    PyObject *extensions = PyObject_GetAttr(self->dtls, str_extensions_map);
    if (extensions == NULL)
        return NULL;
    PyObject *ids = PyObject_GetAttr(extensions, str_ids);
    long send_time_id = 0, level_id = 0;
    if (ids == NULL || extension_id(ids, str_abs_send_time, &send_time_id) < 0 ||
        extension_id(ids, str_audio_level, &level_id) < 0) {
        Py_XDECREF(ids);
        Py_DECREF(extensions);
        return NULL;
    }
    Py_DECREF(ids);
    PyObject *send_time = PyLong_FromLong(send_time_id);
    PyObject *level = PyLong_FromLong(level_id);
    PyObject *packet = NULL;
    if (send_time != NULL && level != NULL) {
        PyObject *call[4] = {self->reader, data, send_time, level};
        packet = PyObject_VectorcallMethod(str_read, call, 4 | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                           NULL);
    }
    Py_XDECREF(send_time);
    Py_XDECREF(level);
    if (packet != NULL && PyBytes_CheckExact(packet)) /* padding, CSRCs, two-byte: aiortc */
        Py_SETREF(packet, PyObject_CallFunctionObjArgs(self->parse, packet, extensions, NULL));
    Py_DECREF(extensions);
    if (packet == NULL && PyErr_ExceptionMatches(PyExc_ValueError)) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    return packet;
}

/* The most SSRCs one connection's router learns: a page sends at most three tracks (camera,
 * microphone, screen), each with a retransmission SSRC, and may renegotiate; an SSRC
 * beyond these is dropped (aiortc's router and the receiver's statistics would keep
 * every one a sender makes up). */
#define MOST_ROUTED_SSRCS 64

/* The packet's SSRC and payload type, whichever kind of packet it is. */
static int
ssrc_and_type(PyObject *packet, PyObject **ssrc, PyObject **type)
{
    if (Py_TYPE(packet) == &ReadPacketType) {
        *ssrc = PyLong_FromUnsignedLong(((ReadPacket *)packet)->ssrc);
        *type = *ssrc == NULL ? NULL : PyLong_FromLong(((ReadPacket *)packet)->payload_type);
    } else {
        *ssrc = PyObject_GetAttrString(packet, "ssrc");
        *type = *ssrc == NULL ? NULL : PyObject_GetAttrString(packet, "payload_type");
    }
    if (*type == NULL) {
        Py_CLEAR(*ssrc);
        return -1;
    }
    return 0;
}

/* aiortc's RtpRouter.route_rtp for a known SSRC with its payload type (nearly every
 * packet); the router's own method for a new SSRC (it learns it when the payload type
 * is one receiver's), while it knows fewer than MOST_ROUTED_SSRCS. New reference, or
 * Py_None. */
static PyObject *
port_route(Port *self, PyObject *packet)
{
    PyObject *router = PyObject_GetAttr(self->dtls, str_rtp_router);
    if (router == NULL)
        return NULL;
    PyObject *result = NULL, *ssrc = NULL, *type = NULL;
    int full = 0;
    PyObject *ssrcs = PyObject_GetAttr(router, str_ssrc_table);
    PyObject *types = ssrcs == NULL ? NULL : PyObject_GetAttr(router, str_payload_type_table);
    if (types != NULL && ssrc_and_type(packet, &ssrc, &type) == 0 && PyDict_CheckExact(ssrcs) &&
        PyDict_CheckExact(types)) {
        PyObject *receiver = Py_XNewRef(PyDict_GetItemWithError(ssrcs, ssrc));
        full = receiver == NULL && PyDict_GET_SIZE(ssrcs) >= MOST_ROUTED_SSRCS;
        PyObject *receivers =
            receiver == NULL ? NULL : Py_XNewRef(PyDict_GetItemWithError(types, type));
        if (receivers != NULL && PyAnySet_Check(receivers) &&
            PySet_Contains(receivers, receiver) == 1)
            result = Py_NewRef(receiver);
        Py_XDECREF(receivers);
        Py_XDECREF(receiver);
    }
    Py_XDECREF(ssrcs);
    Py_XDECREF(types);
    Py_XDECREF(ssrc);
    Py_XDECREF(type);
    if (PyErr_Occurred()) {
        Py_XDECREF(result);
        Py_DECREF(router);
        return NULL;
    }
    if (result == NULL)
        result = full ? Py_NewRef(Py_None) : PyObject_CallMethodOneArg(router, str_route_rtp, packet);
    Py_DECREF(router);
    return result;
}

/* forwarding._direct_receiver: an incoming SRTP packet decrypted, read, routed and handed
 * to its receiver's handler; everything else to aiortc's own path. */
static PyObject *
port_receive(Port *self, PyObject *data, PyObject *component)
{
    const unsigned char *bytes = (const unsigned char *)PyBytes_AS_STRING(data);
    Py_ssize_t size = PyBytes_GET_SIZE(data);
    PyObject *srtp = PyObject_GetAttr(self->dtls, str_rx_srtp);
    if (srtp == NULL)
        return NULL;
    /* Not SRTP (RFC 7983), or RTCP (aiortc's is_rtcp): aiortc's own path. */
    if (srtp == Py_None || size < 12 || !(127 < bytes[0] && bytes[0] < 192) ||
        (191 < bytes[1] && bytes[1] < 209)) {
        Py_DECREF(srtp);
        PyObject *call[2] = {data, component};
        return PyObject_Vectorcall(self->connection, call, 2, NULL);
    }
    i64 arrival = now_ms();
    PyObject *packet = port_read(self, srtp, data);
    Py_DECREF(srtp);
    if (packet == NULL || packet == Py_None)
        return packet;
    PyObject *receiver = port_route(self, packet);
    if (receiver == NULL || receiver == Py_None) {
        Py_DECREF(packet);
        return receiver;
    }
    PyObject *handler = PyObject_GetAttr(receiver, str_direct_handler);
    Py_DECREF(receiver);
    if (handler == NULL && PyErr_ExceptionMatches(PyExc_AttributeError))
        PyErr_Clear();
    else if (handler == NULL) {
        Py_DECREF(packet);
        return NULL;
    }
    if (handler == NULL || handler == Py_None) { /* a track the server does not use */
        Py_XDECREF(handler);
        Py_DECREF(packet);
        Py_RETURN_NONE;
    }
    PyObject *when = PyLong_FromLongLong(arrival);
    PyObject *result = NULL;
    if (when != NULL) {
        PyObject *call[2] = {packet, when};
        result = PyObject_Vectorcall(handler, call, 2, NULL);
        Py_DECREF(when);
    }
    Py_DECREF(handler);
    Py_DECREF(packet);
    if (result == NULL && PyErr_ExceptionMatches(PyExc_Exception)) {
        /* one bad packet must not take the connection down */
        PyObject *type, *value, *traceback;
        PyErr_Fetch(&type, &value, &traceback);
        PyErr_NormalizeException(&type, &value, &traceback);
        if (traceback != NULL)
            PyException_SetTraceback(value, traceback);
        result = PyObject_CallOneArg(self->report, value);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(traceback);
    }
    return result;
}

static int
port_ready(Port *self)
{
    if (self->dtls == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the Port is not set up");
        return -1;
    }
    return 0;
}

static PyObject *
Port_datagram_received(Port *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "datagram_received(data: bytes, addr)");
        return NULL;
    }
    if (port_ready(self) < 0)
        return NULL;
    Py_ssize_t size = PyBytes_GET_SIZE(args[0]);
    unsigned char first = size ? (unsigned char)PyBytes_AS_STRING(args[0])[0] : 0;
    if (!(127 < first && first < 192)) /* STUN and DTLS are below (RFC 7983) */
        return PyObject_Vectorcall(self->stock, args, 2, NULL);
    return port_receive(self, args[0], self->component);
}

static PyObject *
Port_data_received(Port *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "data_received(data: bytes, component)");
        return NULL;
    }
    if (port_ready(self) < 0)
        return NULL;
    return port_receive(self, args[0], args[1]);
}

static PyMethodDef Port_methods[] = {
    {"datagram_received", (PyCFunction)(void (*)(void))Port_datagram_received, METH_FASTCALL,
     "datagram_received(data, addr): the socket's callback (RTP and RTCP first)."},
    {"data_received", (PyCFunction)(void (*)(void))Port_data_received, METH_FASTCALL,
     "data_received(data, component): the ICE connection's callback."},
    {NULL}};

static PyTypeObject PortType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "prorenata.videomote.media._sendpath.Port",
    .tp_doc = PyDoc_STR("Port(*, dtls, stock, connection, component, reader_for, parse, "
                        "report): one socket's incoming datagrams (forwarding.receive_directly)."),
    .tp_basicsize = sizeof(Port),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Port_init,
    .tp_traverse = (traverseproc)Port_traverse,
    .tp_clear = (inquiry)Port_clear,
    .tp_dealloc = (destructor)Port_dealloc,
    .tp_methods = Port_methods,
};

static PyObject *
arrival_now(PyObject *module, PyObject *unused)
{
    return PyLong_FromLongLong(now_ms());
}

static PyMethodDef receive_functions[] = {
    {"now_ms", arrival_now, METH_NOARGS,
     "now_ms(): the arrival clock a Port gives handlers (aiortc's: ms since the NTP epoch)."},
    {NULL}};

int
receive_ready(void)
{
    if (PyType_Ready(&TallyType) < 0 || PyType_Ready(&EstimatorType) < 0 ||
        PyType_Ready(&IntakeType) < 0 || PyType_Ready(&PortType) < 0)
        return -1;
    str_sequence_number = PyUnicode_InternFromString("sequence_number");
    str_timestamp = PyUnicode_InternFromString("timestamp");
    str_enabled = PyUnicode_InternFromString("_enabled");
    str_max_seq = PyUnicode_InternFromString("max_seq");
    str_missing = PyUnicode_InternFromString("missing");
    str_clock_rate = PyUnicode_InternFromString("clockRate");
    str_update = PyUnicode_InternFromString("update");
    str_current_bitrate = PyUnicode_InternFromString("current_bitrate");
    str_current_bitrate_initialized = PyUnicode_InternFromString("current_bitrate_initialized");
    str_rx_srtp = PyUnicode_InternFromString("_rx_srtp");
    str_extensions_map = PyUnicode_InternFromString("_rtp_header_extensions_map");
    str_ids = PyUnicode_InternFromString("_HeaderExtensionsMap__ids");
    str_abs_send_time = PyUnicode_InternFromString("abs_send_time");
    str_audio_level = PyUnicode_InternFromString("audio_level");
    str_rtp_router = PyUnicode_InternFromString("_rtp_router");
    str_ssrc_table = PyUnicode_InternFromString("ssrc_table");
    str_payload_type_table = PyUnicode_InternFromString("payload_type_table");
    str_read = PyUnicode_InternFromString("read");
    str_route_rtp = PyUnicode_InternFromString("route_rtp");
    str_owner = PyUnicode_InternFromString("owner");
    str_direct_handler = PyUnicode_InternFromString("_videomote_direct_handler");
    if (!str_rx_srtp || !str_extensions_map || !str_ids || !str_abs_send_time ||
        !str_audio_level || !str_rtp_router || !str_ssrc_table || !str_payload_type_table ||
        !str_read || !str_route_rtp || !str_owner || !str_direct_handler)
        return -1;
    if (!str_sequence_number || !str_timestamp || !str_enabled || !str_max_seq ||
        !str_missing || !str_clock_rate || !str_update || !str_current_bitrate ||
        !str_current_bitrate_initialized)
        return -1;
    return 0;
}

int
receive_add(PyObject *module)
{
    if (PyModule_AddObjectRef(module, "Tally", (PyObject *)&TallyType) < 0 ||
        PyModule_AddObjectRef(module, "Estimator", (PyObject *)&EstimatorType) < 0 ||
        PyModule_AddObjectRef(module, "Intake", (PyObject *)&IntakeType) < 0 ||
        PyModule_AddObjectRef(module, "Port", (PyObject *)&PortType) < 0 ||
        PyModule_AddFunctions(module, receive_functions) < 0)
        return -1;
    return 0;
}

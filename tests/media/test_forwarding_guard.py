"""Fails loudly when the aiortc/aioice internals that forwarding.py relies on change.

Forwarding without re-encoding reaches into private parts of aiortc 1.16. An upgrade that
renames or reshapes any of them must stop here, not in a room full of people.
"""

from aioice import Connection
from aiortc import RTCPeerConnection
from aiortc import RTCRtpReceiver
from aiortc import RTCRtpSender
from aiortc import rtcrtpreceiver
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtp import RTP_HISTORY_SIZE
from aiortc.rtp import RtpPacket
from aiortc.rtp import is_rtcp
from importlib.metadata import version
from mediaserver import run_in_thread
from pathlib import Path
from prorenata.videomote.media import _sendpath
from prorenata.videomote.media import forwarding

import asyncio
import inspect
import pylibsrtp
import pylibsrtp._binding
import pytest
import sys

_srtp_ffi = pylibsrtp._binding.ffi
_srtp_lib = pylibsrtp._binding.lib


def test_aiortc_is_the_version_forwarding_was_written_for():
    assert version("aiortc") == forwarding.AIORTC_VERSION, (
        "aiortc changed: review media/forwarding.py against the new release, then update "
        "AIORTC_VERSION"
    )


def test_receiver_internals_used_for_forwarding_exist():
    source = inspect.getsource(rtcrtpreceiver.RTCRtpReceiver)
    # Each accepted packet reaches the jitter buffer; only its frames reach the decoder.
    assert "pli_flag, encoded_frame = self.__jitter_buffer.add(packet)" in source
    assert "if encoded_frame is not None and self.__decoder_thread:" in source
    assert callable(RTCRtpReceiver._send_rtcp_pli)
    assert "getSynchronizationSources" in dir(RTCRtpReceiver)


def test_receiver_private_attributes_exist_on_a_real_receiver():
    async def check():
        pc = RTCPeerConnection()
        transceiver = pc.addTransceiver("video", direction="recvonly")
        receiver = transceiver.receiver
        for name in (
            forwarding._RECEIVER_STARTED,
            forwarding._RECEIVER_JITTER_BUFFER,
            forwarding._RECEIVER_KIND,
            forwarding._RECEIVER_ESTIMATOR,
            forwarding._RECEIVER_CODECS,
            forwarding._RECEIVER_STREAMS,
            forwarding._RECEIVER_RTX_SSRC,
            forwarding._RECEIVER_NACK,
            forwarding._RECEIVER_ACTIVE_SSRC,
            forwarding._RECEIVER_RTCP_SSRC,
        ):
            assert hasattr(receiver, name), name
        assert receiver._enabled is True
        dtls = receiver.transport
        for name in ("_rx_srtp", "_tx_srtp", "_rtp_router", "_rtp_header_extensions_map"):
            assert hasattr(dtls, name), name
        assert dtls._state.name == "NEW"
        assert hasattr(dtls.transport._connection, "_nominated")
        sender = transceiver.sender
        for name in (
            forwarding._SENDER_MID,
            forwarding._SENDER_EXTENSIONS,
            forwarding._SENDER_RTX_PAYLOAD_TYPE,
            forwarding._SENDER_RTX_SEQUENCE_NUMBER,
            forwarding._SENDER_STARTED,
            *forwarding._SENDER_COUNTERS,
        ):
            assert hasattr(sender, name), name
        assert isinstance(sender._ssrc, int)
        extensions = getattr(sender, forwarding._SENDER_EXTENSIONS)
        ids = getattr(extensions, forwarding._EXTENSION_IDS)
        for name in ("mid", "abs_send_time", "audio_level"):
            assert hasattr(ids, name), name
        assert getattr(receiver, forwarding._RECEIVER_KIND) == "video"
        assert isinstance(getattr(receiver, forwarding._RECEIVER_JITTER_BUFFER), JitterBuffer)
        forwarding.forward_packets(receiver, lambda packet, keyframe: None)
        assert isinstance(
            getattr(receiver, forwarding._RECEIVER_JITTER_BUFFER), forwarding.PacketCollector
        )
        assert callable(getattr(receiver, forwarding._DIRECT_HANDLER))
        # Codec list of a transceiver, reordered by prefer_codec.
        assert isinstance(transceiver._codecs, list)
        await pc.close()

    run_in_thread(check, 30)


def test_the_receive_path_taken_over_from_the_datagram_callback_is_unchanged():
    """receive_directly does what aioice's callback and aiortc's receive task do for RTP."""
    from aioice.ice import StunProtocol
    from aiortc.rtcdtlstransport import RtpRouter

    callback = inspect.getsource(StunProtocol.datagram_received)
    # Anything that is not STUN goes to the connection: RTP and RTCP may skip the parse.
    assert "message = stun.parse_message(data)" in callback
    assert (
        "except ValueError:\n"
        "            self.receiver.data_received(data, self.local_candidate.component)"
    ) in callback
    # asyncio looks the callback up on the protocol for every datagram (uvloop too).
    assert "self._protocol.datagram_received(data, addr)" in inspect.getsource(
        asyncio.selector_events._SelectorDatagramTransport._read_ready
    )
    assert "self._protocols: list[StunProtocol] = []" in inspect.getsource(Connection)
    assert "self._queue.put_nowait((data, component))" in inspect.getsource(
        Connection.data_received
    )
    receive = inspect.getsource(RTCDtlsTransport._recv_next)
    assert "first_byte > 127 and first_byte < 192 and self._rx_srtp" in receive
    assert "if is_rtcp(data):" in receive
    # is_rtcp, written out in the direct receiver
    assert "return len(msg) >= 2 and msg[1] >= 192 and msg[1] <= 208" in inspect.getsource(is_rtcp)
    assert "data = self._rx_srtp.unprotect(data)" in receive
    handle = inspect.getsource(RTCDtlsTransport._handle_rtp_data)
    assert "RtpPacket.parse(data, self._rtp_header_extensions_map)" in handle
    assert "receiver = self._rtp_router.route_rtp(packet)" in handle
    # Routing reads the SSRC and payload type only: read_rtp's packets carry no MID.
    route = inspect.getsource(RtpRouter.route_rtp)
    assert "packet.extensions" not in route and "packet.ssrc" in route
    # The C port's quick way (_receive.c, port_route): a known SSRC with its payload type.
    for line in (
        "ssrc_receiver = self.ssrc_table.get(packet.ssrc)",
        "pt_receivers = self.payload_type_table.get(packet.payload_type, set())",
        "if ssrc_receiver is not None and ssrc_receiver in pt_receivers:",
    ):
        assert line in route, line
    assert (RtpRouter().ssrc_table, RtpRouter().payload_type_table) == ({}, {})
    assert "await receiver._handle_rtp_packet(packet, arrival_time_ms=arrival_time_ms)" in handle


def test_the_receiver_bookkeeping_forward_packets_repeats_is_unchanged():
    """forward_packets keeps these steps of the stock handler (and leaves out the rest)."""
    source = inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    for line in (
        "if not self._enabled:",
        "remb = self.__remote_bitrate_estimator.add(",
        "payload_size=len(packet.payload) + packet.padding_size,",
        "fmt=RTCP_PSFB_APP,",
        "fci=pack_remb_fci(*remb),",
        "self.__active_ssrc[packet.ssrc] = clock.current_datetime()",
        "codec = self.__codecs.get(packet.payload_type)",
        "self.__remote_streams[packet.ssrc] = StreamStatistics(codec.clockRate)",
        "self.__remote_streams[packet.ssrc].add(packet)",
        "if is_rtx(codec):",
        "original_ssrc = self.__rtx_ssrc.get(packet.ssrc)",
        "packet = unwrap_rtx(packet, payload_type=apt, ssrc=original_ssrc)",
        "self.__nack_generator is not None and self.__nack_generator.add(packet)",
        "packet.ssrc, sorted(self.__nack_generator.missing)",
        "packet._data = depayload(codec, packet.payload)",
        "self.__jitter_buffer.add(packet)",
    ):
        assert line in source, line
    assert source.count("await ") == 3  # REMB, NACK, PLI: the only sends


def test_what_the_c_intake_reads_and_writes_of_aiortc_exists():
    """_receive.c: the Tally stands in for StreamStatistics wherever aiortc reads one;
    the intake reads and moves the NACK generator's newest number and asks aiortc's rate
    control for the estimate (the estimator's arithmetic is compared in test_remb.py)."""
    from aiortc.rate import AimdRateControl
    from aiortc.rate import BandwidthUsage
    from aiortc.rtcrtpreceiver import NackGenerator
    from aiortc.rtcrtpreceiver import StreamStatistics
    from prorenata.videomote.media import _sendpath

    reference, tally = StreamStatistics(90000), _sendpath.Tally(90000)
    for name in [*vars(reference), "fraction_lost", "jitter", "packets_expected", "packets_lost"]:
        assert name in dir(tally), name
    receiver = inspect.getsource(RTCRtpReceiver)
    for name in ("packets_received", "packets_lost", "jitter", "fraction_lost", "max_seq"):
        assert f"stream.{name}" in receiver, name
    nacks = NackGenerator()
    assert nacks.max_seq is None and nacks.missing == set()
    assert "self.max_seq = packet.sequence_number" in inspect.getsource(NackGenerator.add)
    control = AimdRateControl()
    assert control.current_bitrate_initialized is False and control.current_bitrate > 0
    assert list(inspect.signature(control.update).parameters) == [
        "bandwidth_usage",
        "estimated_throughput",
        "now_ms",
    ]
    assert [usage.value for usage in BandwidthUsage] == [0, 1, 2]


def test_the_send_path_taken_over_to_the_socket_is_unchanged():
    """RtpRewriter encrypts and sends as the DTLS transport, ICE transport and aioice do."""
    from aioice.ice import StunProtocol
    from aiortc.rtcdtlstransport import State
    from aiortc.rtcicetransport import RTCIceTransport

    send = inspect.getsource(RTCDtlsTransport._send_rtp)
    assert "if self._state != State.CONNECTED:" in send
    assert "data = self._tx_srtp.protect(data)" in send
    assert "await self.transport._send(data)" in send
    ice = inspect.getsource(RTCIceTransport)
    assert "self._connection = gatherer._connection" in ice
    assert "self._send = self._connection.send" in ice
    assert "await self.sendto(data, 1)" in inspect.getsource(Connection.send)
    sendto = inspect.getsource(Connection.sendto)
    assert "active_pair = self._nominated.get(component)" in sendto
    assert "await active_pair.protocol.send_data(data, active_pair.remote_addr)" in sendto
    assert "self.transport.sendto(data, addr)" in inspect.getsource(StunProtocol.send_data)
    # The route keeps the dict of nominated pairs: aioice fills and clears it in place,
    # replaces pairs in it (a new pair object: the route reads it again), never the dict.
    aioice_source = inspect.getsource(sys.modules[Connection.__module__])
    assert aioice_source.count("self._nominated =") == 0
    assert aioice_source.count("self._nominated: dict[int, CandidatePair] = {}") == 1
    assert "return (self.remote_candidate._network_host, self.remote_candidate.port)" in (
        aioice_source
    )
    assert forwarding._DTLS_CONNECTED is State.CONNECTED
    # The C lane writes the sender's counters and reads the transport's state by name.
    lane = (Path(forwarding.__file__).parent / "_sendpath.c").read_text()
    for name in forwarding._SENDER_COUNTERS:
        assert f'PyUnicode_InternFromString("{name}")' in lane, name
        assert f"self.{name.replace('_RTCRtpSender', '')}" in inspect.getsource(RTCRtpSender)
    assert 'PyUnicode_InternFromString("_state")' in lane
    assert "self._state = " in inspect.getsource(RTCDtlsTransport)
    # The lane keeps as many packets for retransmission as aiortc's sender would.
    assert _sendpath.HISTORY == RTP_HISTORY_SIZE
    # pylibsrtp's libsrtp 2 signatures the C path calls through.
    assert str(_srtp_ffi.typeof(_srtp_lib.srtp_protect)) == (
        "<ctype 'srtp_err_status_t(*)(struct srtp_ctx_t_ *, void *, int *)'>"
    )
    assert _srtp_ffi.typeof(_srtp_lib.srtp_unprotect) == _srtp_ffi.typeof(_srtp_lib.srtp_protect)
    assert _sendpath.TRAILER == pylibsrtp.SRTP_MAX_TRAILER_LEN


def test_sender_keyframe_hook_and_packet_path_exist():
    source = inspect.getsource(RTCRtpSender)
    # A NACK reaches _retransmit (RtpRewriter answers it from its own history), which
    # wraps the packet in RTX with these counters, as RtpRewriter._retransmit does.
    assert "await self._retransmit(seq)" in inspect.getsource(RTCRtpSender._handle_rtcp_packet)
    retransmit = inspect.getsource(RTCRtpSender._retransmit)
    for line in (
        "if self.__rtx_payload_type is not None:",
        "payload_type=self.__rtx_payload_type,",
        "sequence_number=self.__rtx_sequence_number,",
        "ssrc=self._rtx_ssrc,",
        "self.__rtx_sequence_number = uint16_add(self.__rtx_sequence_number, 1)",
        "packet_bytes = packet.serialize(self.__rtp_header_extensions_map)",
        "await self.transport._send_rtp(packet_bytes)",
    ):
        assert line in retransmit, line
    assert "self.__packet_count" in source and "self.__octet_count" in source
    assert "self._send_keyframe()" in source  # PLI and FIR handling calls it
    assert "payloads, timestamp = self.__encoder.pack(data)" in source  # av.Packet path
    assert callable(RTCRtpSender._send_keyframe)


def test_jitter_buffer_internals_exist():
    buffer = JitterBuffer(capacity=16, is_video=True)
    for name in ("_packets", "_origin", "_capacity", "_is_video", "remove", "capacity"):
        assert hasattr(buffer, name), name
    assert list(inspect.signature(JitterBuffer._remove_frame).parameters) == [
        "self",
        "sequence_number",
    ]


@pytest.mark.parametrize(
    "payload, keyframe",
    [
        (b"\x90\x80\x01\x10\x02\x00", True),  # X, I: 7-bit picture ID; key frame
        (b"\x90\x80\x81\x01\x10\x02", True),  # 15-bit picture ID (M bit)
        (b"\x90\xe0\x81\x01\x05\x40\x10\x02", True),  # I, L and T: three more bytes
        (b"\x10\x10\x02\x00", True),  # no extension at all
        (b"\x90\x80\x01\x11", False),  # interframe
        (b"\x80\x80\x01\x10", False),  # not the start of a partition
        (b"\x91\x80\x01\x10", False),  # start of partition 1
        (b"\x90\xe0\x81\x01\x05", False),  # truncated
        (b"\x10", False),
    ],
)
def test_a_vp8_keyframe_start_is_recognised_in_the_rtp_payload(payload, keyframe):
    assert forwarding.starts_vp8_keyframe(RtpPacket(payload=payload)) is keyframe


def test_vp8_keyframe_detection_agrees_with_aiortcs_depayloader():
    from aiortc.codecs.vpx import VpxPayloadDescriptor

    for payload in (b"\x90\x80\x01\x10\x02\x00", b"\x90\xe0\x81\x01\x05\x40\x10\x02"):
        descriptor, data = VpxPayloadDescriptor.parse(payload)
        assert descriptor.partition_start and descriptor.partition_id == 0
        assert forwarding.is_vp8_keyframe(data)
        assert forwarding.starts_vp8_keyframe(RtpPacket(payload=payload))


def test_aioice_internals_used_for_host_addresses_exist():
    connection = Connection(ice_controlling=False)
    for name in (
        "_local_candidates_start",
        "_local_candidates_end",
        "_local_candidates",
        "_components",
        "_protocols",
        "_use_ipv4",
        "_use_ipv6",
        "gather_candidates",
    ):
        assert hasattr(connection, name), name
    parameters = inspect.signature(connection.get_component_candidates).parameters
    assert list(parameters)[:2] == ["component", "addresses"]
    gatherer_source = inspect.getsource(RTCPeerConnection)
    assert "iceGatherer.gather()" in gatherer_source


@pytest.mark.parametrize(
    "data, keyframe",
    [(b"\x10\x02\x00\x9d\x01\x2a", True), (b"\x11\x02\x00", False), (b"", False)],
)
def test_vp8_keyframes_are_recognised_by_the_frame_tag(data, keyframe):
    assert forwarding.is_vp8_keyframe(data) is keyframe


def test_our_clocks_agree_with_aiortcs():
    from aiortc import clock

    assert abs(forwarding.ntp_now() - clock.current_ntp_time()) < 2**32 // 100  # 10 ms
    assert abs(forwarding._sendpath.now_ms() - clock.current_ms()) < 10


def test_the_pylibsrtp_session_internals_the_route_encrypts_with_exist():
    """_Route does what Session.protect does, in the session's own buffer."""
    import pylibsrtp

    process = inspect.getsource(pylibsrtp.Session._Session__process)
    for line in (
        "if len(data) > len(self._cdata) - trailer:",
        "len_p[0] = len(data)",
        "self._buffer[0 : len(data)] = data",
        "_srtp_assert(func(self._srtp[0], self._cdata, len_p))",
        "return self._buffer[0 : len_p[0]]",
    ):
        assert line in process, line
    protect = inspect.getsource(pylibsrtp.Session.protect)
    assert "self.__process(packet, lib.srtp_protect, SRTP_MAX_TRAILER_LEN)" in protect
    assert forwarding._srtp_protect is pylibsrtp._binding.lib.srtp_protect
    session = pylibsrtp.Session()
    for name in (forwarding._SRTP_CDATA, forwarding._SRTP_BUFFER, forwarding._SRTP_CONTEXT):
        assert hasattr(session, name), name

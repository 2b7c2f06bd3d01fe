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
from aiortc.rtp import RtpPacket
from importlib.metadata import version
from mediaserver import run_in_thread
from prorenata.videomote.media import forwarding

import inspect
import pytest


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
        ):
            assert hasattr(receiver, name), name
        sender = transceiver.sender
        for name in (
            forwarding._SENDER_MID,
            forwarding._SENDER_EXTENSIONS,
            forwarding._SENDER_HISTORY,
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
        # Codec list of a transceiver, reordered by prefer_codec.
        assert isinstance(transceiver._codecs, list)
        await pc.close()

    run_in_thread(check, 30)


def test_the_transport_hands_packets_to_the_receiver_instance_and_sends_bytes():
    from aiortc.rtcdtlstransport import RTCDtlsTransport

    source = inspect.getsource(RTCDtlsTransport)
    assert "await receiver._handle_rtp_packet(packet, arrival_time_ms=arrival_time_ms)" in source
    assert list(inspect.signature(RTCDtlsTransport._send_rtp).parameters) == ["self", "data"]
    receiver_source = inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    assert "self.__remote_bitrate_estimator is not None" in receiver_source
    assert "self.__jitter_buffer.add(packet)" in receiver_source
    assert "packet._data = depayload(codec, packet.payload)" in receiver_source


def test_sender_keyframe_hook_and_packet_path_exist():
    source = inspect.getsource(RTCRtpSender)
    assert "self.__rtp_history.get(sequence_number % RTP_HISTORY_SIZE)" in source
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


def test_a_vp8_keyframe_start_is_recognised_in_the_rtp_packet():
    start = RtpPacket(payload=b"\x90\x80\x01\x10\x02\x00")
    start._data = b"\x10\x02\x00"
    middle = RtpPacket(payload=b"\x80\x80\x01\x10")
    middle._data = b"\x10"
    delta = RtpPacket(payload=b"\x90\x80\x01\x11")
    delta._data = b"\x11"
    assert forwarding.starts_vp8_keyframe(start)
    assert not forwarding.starts_vp8_keyframe(middle)
    assert not forwarding.starts_vp8_keyframe(delta)


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


def test_our_ntp_clock_agrees_with_aiortcs():
    from aiortc import clock

    assert abs(forwarding.ntp_now() - clock.current_ntp_time()) < 2**32 // 100  # 10 ms

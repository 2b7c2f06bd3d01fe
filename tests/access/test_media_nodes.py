"""Which media node a meeting lives on: the plain placement rules."""

from prorenata.videomote.access.media_nodes import choose_node
from prorenata.videomote.access.media_nodes import configured_nodes
from prorenata.videomote.access.media_nodes import http_base

ONE, TWO, THREE = (f"wss://media{n}.example.se/ws" for n in (1, 2, 3))


def _health(**people):
    """A health_of answering for the nodes named media1.. with that many people."""
    asked = []

    def health_of(url):
        asked.append(url)
        name = url.split("//")[1].split(".")[0]
        if name not in people or people[name] is None:
            return None
        return {"ok": True, "rooms": people[name] // 2, "people": people[name]}

    return health_of, asked


def test_a_new_meeting_goes_to_the_least_loaded_healthy_node():
    health_of, _ = _health(media1=3, media2=1, media3=None)
    assert choose_node([ONE, TWO, THREE], None, health_of) == TWO


def test_equally_loaded_nodes_are_taken_in_the_settings_order():
    health_of, _ = _health(media1=0, media2=0)
    assert choose_node([ONE, TWO], None, health_of) == ONE


def test_a_placed_meeting_stays_on_its_healthy_node_without_asking_the_others():
    health_of, asked = _health(media1=4, media2=0)
    assert choose_node([ONE, TWO], ONE, health_of) == ONE
    assert asked == [ONE]


def test_a_meeting_whose_node_stopped_answering_moves_to_a_healthy_one():
    health_of, _ = _health(media1=None, media2=2, media3=5)
    assert choose_node([ONE, TWO, THREE], ONE, health_of) == TWO


def test_a_meeting_on_a_node_no_longer_configured_moves():
    health_of, _ = _health(media1=9, media2=1)
    assert choose_node([TWO], ONE, health_of) == TWO


def test_no_healthy_node_gives_none_and_a_malformed_answer_is_not_healthy():
    assert choose_node([ONE, TWO], ONE, lambda url: None) is None
    answers = iter([{"ok": "yes"}, {"ok": True, "people": "many", "rooms": 0}])
    assert choose_node([ONE, TWO], None, lambda url: next(answers)) is None


def test_nodes_are_listed_once_without_blanks_and_fall_back_to_the_media_server():
    assert list(configured_nodes([ONE, " ", TWO, ONE], "wss://x/ws")) == [ONE, TWO]
    assert configured_nodes([], " wss://x/ws ") == {"wss://x/ws": "https://x"}
    assert configured_nodes(None, "") == {}


def test_a_node_may_name_where_plone_reaches_it_beside_its_public_address():
    lines = [f"{ONE} http://10.0.0.5:8090/", f"{TWO} ftp://10.0.0.6", THREE]
    assert configured_nodes(lines, "") == {
        ONE: "http://10.0.0.5:8090",
        TWO: "https://media2.example.se",  # not an http(s) address: the public one's
        THREE: "https://media3.example.se",
    }


def test_a_nodes_http_address_is_beside_its_websocket():
    assert http_base("wss://media.example.se:8444/ws") == "https://media.example.se:8444"
    assert http_base("ws://127.0.0.1:8090/media/ws") == "http://127.0.0.1:8090/media"

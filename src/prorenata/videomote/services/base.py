"""The base of the add-on's REST services: input read in one place, refusals as 4xx."""

from plone.restapi.services import Service
from prorenata.videomote.booking.rules import BookingRefused
from prorenata.videomote.request_input import STATE_CHANGING
from prorenata.videomote.request_input import InputRefused
from prorenata.videomote.request_input import check_origin
from prorenata.videomote.request_input import early_refusal
from prorenata.videomote.request_input import json_object
from prorenata.videomote.request_input import refusal_body
from prorenata.videomote.services.serialize import refusal_json

import json
import transaction


class VideomoteService(Service):
    """A service whose state-changing calls have their JSON body checked before
    ``reply`` runs (``self.data``), and whose refusals change nothing and answer 4xx JSON
    naming the field in Swedish, whatever the input."""

    data: dict

    def render(self):
        self.check_permission()
        try:
            check_origin(self.request)
            refused = early_refusal(self.request)
            if refused is not None:
                raise refused
            self.data = (
                json_object(self.request)
                if self.request.get("REQUEST_METHOD", "GET").upper() in STATE_CHANGING
                else {}
            )
            return super().render()
        except InputRefused as refused:
            transaction.doom()
            self.request.response.setStatus(refused.status)
            content = refusal_body(refused, self.request)
        except BookingRefused as refusal:
            transaction.doom()
            content = refusal_json(self, refusal)
        self.request.response.setHeader("Content-Type", self.content_type)
        return json.dumps(content, indent=2, sort_keys=True, separators=(", ", ": "))

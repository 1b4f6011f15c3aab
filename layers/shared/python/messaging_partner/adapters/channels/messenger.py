"""Messenger Platform webhooks: object "page".

Identity: entry.id is the Page (what AccountLinks routes on); the customer is the
page-scoped id (PSID) in sender.id, or sender.user_ref for the chat plugin.
"""

from messaging_partner.domain.models import Channel

from .meta_messaging import MetaMessagingChannel

channel = MetaMessagingChannel(Channel.MESSENGER, object_type="page")

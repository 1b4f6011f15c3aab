"""Instagram messaging webhooks: object "instagram", signed with the same Meta app secret.

Identity: entry.id is the Instagram professional account (IGID); the customer is the
Instagram-scoped id (IGSID) in sender.id. The referral field is `messaging_referral`
(singular), with the same shape as Messenger's.
"""

from messaging_partner.domain.models import Channel

from .meta_messaging import MetaMessagingChannel

channel = MetaMessagingChannel(Channel.INSTAGRAM, object_type="instagram")

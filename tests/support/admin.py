"""Staff users and admin page helpers for the admin tests."""

from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages

SYNC_URL = "/admin/metrics/weeklymetric/sync/"
# The page's script starts a sync here (JSON); the page itself is HTML only.
SYNC_START_URL = "/admin/metrics/weeklymetric/sync/start/"


def staff(username: str, *codenames: str) -> User:
    user = User.objects.create_user(username, password="pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="metrics", codename__in=codenames)
    )
    return user


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]

"""The reports-and-alerts settings, read by a fresh process as at start-up."""

from tests.support.environment import read_setting


def test_email_url_defaults_to_the_console_with_debug_and_to_no_mail_without():
    debug = read_setting("EMAIL_BACKEND, settings.EMAIL_CONFIGURED", DEBUG="true")
    assert debug.stdout.split() == ["django.core.mail.backends.console.EmailBackend", "True"], debug.stderr
    production = read_setting("EMAIL_BACKEND, settings.EMAIL_CONFIGURED", SECRET_KEY="x" * 50)
    assert production.stdout.split() == ["django.core.mail.backends.dummy.EmailBackend", "False"]


def test_an_empty_email_url_means_no_mail_and_a_wrong_scheme_stops_the_app():
    empty = read_setting("EMAIL_CONFIGURED", SECRET_KEY="x" * 50, EMAIL_URL="")
    assert empty.stdout.strip() == "False", empty.stderr
    wrong = read_setting("EMAIL_CONFIGURED", SECRET_KEY="x" * 50, EMAIL_URL="mail://smtp.example.com")
    assert wrong.returncode != 0 and "EMAIL_URL must start with smtp://" in wrong.stderr


def test_email_url_sets_django_mail_settings_and_the_backend_with_a_whole_send_deadline():
    result = read_setting(
        "EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS, settings.EMAIL_HOST_USER, "
        "settings.EMAIL_BACKEND",
        SECRET_KEY="x" * 50,
        EMAIL_URL="smtp+tls://mailer:pa55@smtp.example.com:587",
    )
    assert result.stdout.split() == [
        "smtp.example.com", "587", "True", "mailer", "metrics.reports.smtp.EmailBackend"
    ], result.stderr  # fmt: skip


def test_the_report_job_is_installed_only_with_recipients():
    alone = read_setting("CRONJOBS", SECRET_KEY="x" * 50)
    assert "weekly_report_job" not in alone.stdout
    both = read_setting("CRONJOBS", SECRET_KEY="x" * 50, VISITORSYNC_REPORT_RECIPIENTS="a@example.test")
    assert "('30 6 * * 1', 'metrics.jobs.crontab.weekly_report_job')" in both.stdout, both.stderr


def test_an_alert_drop_from_the_environment_is_read_for_the_check():
    result = read_setting("VISITORSYNC_ALERT_DROP", SECRET_KEY="x" * 50, VISITORSYNC_ALERT_DROP="50")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "50.0"


def test_recipients_without_a_mail_server_are_reported_by_check(settings, capsys):
    from django.core.management import call_command

    settings.VISITORSYNC_REPORT_RECIPIENTS = ["a@example.test"]
    settings.EMAIL_CONFIGURED = False
    call_command("check")
    assert "metrics.W006" in capsys.readouterr().err
    settings.EMAIL_CONFIGURED = True
    call_command("check")
    assert "metrics.W006" not in capsys.readouterr().err

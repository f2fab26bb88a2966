import secrets

from django.db import migrations, models

import tenancy.models


def give_each_workspace_its_own_token(apps, schema_editor):
    Workspace = apps.get_model("tenancy", "Workspace")
    for workspace in Workspace.objects.all():
        workspace.calendar_feed_token = secrets.token_urlsafe(32)
        workspace.save(update_fields=["calendar_feed_token"])


class Migration(migrations.Migration):
    dependencies = [("tenancy", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="workspace",
            name="integrations",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="workspace",
            name="calendar_feed_token",
            field=models.CharField(editable=False, max_length=64, null=True),
        ),
        migrations.RunPython(give_each_workspace_its_own_token, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="workspace",
            name="calendar_feed_token",
            field=models.CharField(
                default=tenancy.models.new_feed_token, editable=False, max_length=64, unique=True
            ),
        ),
    ]

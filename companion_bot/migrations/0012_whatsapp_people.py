from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.fields.base import OnDelete
from companion_bot.models import Channel

# WhatsApp beside Telegram (issue 11): a person is known by her channel and her address there
# (her Telegram id, or her WhatsApp id); every existing person is on Telegram and keeps her
# id. Outbox rows say which channel sends them; those queued before are Telegram's.
# After 0011 (issue 12).
#
# On SQLite, making telegram_id nullable rebuilds the person table; with foreign keys on,
# dropping the old table would delete every row that points at a person (registrations,
# roles…) through ON DELETE CASCADE. So this migration is not one transaction: foreign keys
# are switched off around the rebuild (SQLite ignores that pragma inside a transaction).


def _pragma(enabled: bool):
    async def switch(apps, schema_editor):
        client = schema_editor.client
        if client.capabilities.dialect == "sqlite":
            await client.execute_script(f"PRAGMA foreign_keys = {'ON' if enabled else 'OFF'}")

    return switch


class Migration(migrations.Migration):
    dependencies = [('models', '0011_driver_seats')]

    initial = False
    atomic = False

    operations = [
        ops.AddField(
            model_name='Person',
            name='channel',
            field=fields.CharEnumField(default=Channel.TELEGRAM, description='TELEGRAM: telegram\nWHATSAPP: whatsapp', db_default='telegram', enum_type=Channel, max_length=16),
        ),
        ops.AddField(
            model_name='Person',
            name='whatsapp_id',
            field=fields.CharField(null=True, unique=True, max_length=32),
        ),
        ops.AddField(
            model_name='Person',
            name='last_message_at',
            field=fields.DatetimeField(null=True),
        ),
        ops.RunPython(_pragma(False), _pragma(False), atomic=False),
        ops.AlterField(
            model_name='Person',
            name='telegram_id',
            field=fields.BigIntField(null=True, unique=True),
        ),
        ops.RunPython(_pragma(True), _pragma(True), atomic=False),
        ops.AddField(
            model_name='OutboxMessage',
            name='channel',
            field=fields.CharEnumField(default=Channel.TELEGRAM, description='TELEGRAM: telegram\nWHATSAPP: whatsapp', db_default='telegram', enum_type=Channel, max_length=16),
        ),
        ops.CreateModel(
            name='ChatState',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person', fields.OneToOneField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='chat_state', on_delete=OnDelete.CASCADE)),
                ('data', fields.JSONField(default=dict)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'chat_state', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Where someone on WhatsApp is in a conversation (the answer she is editing, a question'},
            bases=['Model'],
        ),
        ops.AlterModelOptions(
            name='Person',
            options={'table': 'person', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Someone the bot talks to, known by her channel and her address there: her Telegram'},
        ),
        ops.AlterModelOptions(
            name='OutboxMessage',
            options={'table': 'outbox_message', 'app': 'models', 'indexes': (('status', 'not_before'),), 'pk_attr': 'id', 'table_description': "A notification waiting to be sent: survives crashes, paced to its channel's limits."},
        ),
        ops.AlterField(
            model_name='OutboxMessage',
            name='method',
            field=fields.CharField(default='text', max_length=32),
        ),
    ]

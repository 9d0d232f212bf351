from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ConversationState',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('conversation', fields.CharField(max_length=64)),
                ('key', fields.CharField(max_length=128)),
                ('state', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'conversation_state', 'app': 'models', 'unique_together': (('conversation', 'key'),), 'pk_attr': 'id', 'table_description': 'Where a person is in a conversation, written through on every step.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='UserData',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('telegram_id', fields.BigIntField(unique=True)),
                ('data', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'user_data', 'app': 'models', 'pk_attr': 'id', 'table_description': "PTB's per-user scratch data (which event she is signing up for, pending choices)."},
            bases=['Model'],
        ),
    ]

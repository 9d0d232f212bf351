from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_closing_time_and_privacy')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='Avoidance',
            name='avoided',
            field=fields.ForeignKeyField('models.Person', source_field='avoided_id', null=True, db_constraint=True, to_field='id', related_name='avoided_by', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='Avoidance',
            name='avoided_key',
            field=fields.CharField(null=True, db_index=True, max_length=64),
        ),
    ]

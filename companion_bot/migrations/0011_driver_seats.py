from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

# A driver's offer of seats to companions heading her way (issue 12): None when she was not
# asked (not a driver, or not answered yet), 0 when she drives alone, 1-8 seats otherwise.
# Numbered 0011: two other branches add 0009 and 0010; once merged this depends on the last.


class Migration(migrations.Migration):
    dependencies = [('models', '0008_durable_inbox')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Registration',
            name='seats_offered',
            field=fields.SmallIntField(null=True),
        ),
    ]

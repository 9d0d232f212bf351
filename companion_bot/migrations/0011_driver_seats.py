from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

# A driver's offer of seats to companions heading her way (issue 12): None when she was not
# asked (not a driver, or not answered yet), 0 when she drives alone, 1-8 seats otherwise.
# After 0010 (issue 14).


class Migration(migrations.Migration):
    dependencies = [('models', '0010_safety_beyond_the_anchors')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Registration',
            name='seats_offered',
            field=fields.SmallIntField(null=True),
        ),
    ]

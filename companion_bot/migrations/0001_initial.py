from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

from companion_bot.models import ArrivalKind, RegistrationStatus, RoleKind, Transport


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Person',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('telegram_id', fields.BigIntField(unique=True)),
                ('language', fields.CharField(null=True, max_length=8)),
                ('display_name', fields.CharField(null=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'person', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Event',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=120)),
                ('venue_name', fields.CharField(max_length=120)),
                ('venue_lat', fields.FloatField()),
                ('venue_lon', fields.FloatField()),
                ('timezone', fields.CharField(default='Europe/Paris', max_length=64)),
                ('doors_open', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('closing', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('min_group_size', fields.SmallIntField(default=2)),
                ('preferred_min_size', fields.SmallIntField(default=3)),
                ('preferred_max_size', fields.SmallIntField(default=4)),
                ('max_group_size', fields.SmallIntField(default=5)),
                ('charter', fields.TextField(unique=False)),
                ('attendee_code', fields.CharField(unique=True, max_length=32)),
                ('volunteer_code', fields.CharField(unique=True, max_length=32)),
                ('organizer_code', fields.CharField(unique=True, max_length=32)),
                ('created_by', fields.ForeignKeyField('models.Person', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='created_events', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'event', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MeetingPoint',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event', fields.ForeignKeyField('models.Event', source_field='event_id', db_constraint=True, to_field='id', related_name='meeting_points', on_delete=OnDelete.CASCADE)),
                ('position', fields.SmallIntField(default=0)),
                ('name', fields.CharField(max_length=120)),
            ],
            options={'table': 'meeting_point', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ArrivalSlot',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event', fields.ForeignKeyField('models.Event', source_field='event_id', db_constraint=True, to_field='id', related_name='arrival_slots', on_delete=OnDelete.CASCADE)),
                ('starts_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ends_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('meeting_point', fields.ForeignKeyField('models.MeetingPoint', source_field='meeting_point_id', null=True, db_constraint=True, to_field='id', related_name='arrival_slots', on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'arrival_slot', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DepartureWave',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event', fields.ForeignKeyField('models.Event', source_field='event_id', db_constraint=True, to_field='id', related_name='departure_waves', on_delete=OnDelete.CASCADE)),
                ('departs_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('meeting_point', fields.ForeignKeyField('models.MeetingPoint', source_field='meeting_point_id', null=True, db_constraint=True, to_field='id', related_name='departure_waves', on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'departure_wave', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Registration',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event', fields.ForeignKeyField('models.Event', source_field='event_id', db_constraint=True, to_field='id', related_name='registrations', on_delete=OnDelete.CASCADE)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='registrations', on_delete=OnDelete.CASCADE)),
                ('status', fields.CharEnumField(default=RegistrationStatus.DRAFT, description='DRAFT: draft\nCONFIRMED: confirmed\nCANCELLED: cancelled', enum_type=RegistrationStatus, max_length=16)),
                ('consent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('arrival_kind', fields.CharEnumField(null=True, description='SLOT: slot\nALREADY_THERE: already_there\nON_MY_OWN: on_my_own', enum_type=ArrivalKind, max_length=16)),
                ('arrival_slot', fields.ForeignKeyField('models.ArrivalSlot', source_field='arrival_slot_id', null=True, db_constraint=True, to_field='id', related_name='registrations', on_delete=OnDelete.SET_NULL)),
                ('wants_departure_group', fields.BooleanField(null=True)),
                ('destination_place_id', fields.CharField(null=True, max_length=64)),
                ('transport', fields.CharEnumField(null=True, description='WALK: walk\nTRANSIT: transit\nNIGHT_BUS: night_bus\nTAXI: taxi\nBIKE: bike\nCAR: car', enum_type=Transport, max_length=16)),
                ('departure_wave', fields.ForeignKeyField('models.DepartureWave', source_field='departure_wave_id', null=True, db_constraint=True, to_field='id', related_name='registrations', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('confirmed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('cancelled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'registration', 'app': 'models', 'unique_together': (('event', 'person'),), 'pk_attr': 'id', 'table_description': 'One attendee at one event, filled step by step while she signs up (status draft).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Role',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event', fields.ForeignKeyField('models.Event', source_field='event_id', db_constraint=True, to_field='id', related_name='roles', on_delete=OnDelete.CASCADE)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='roles', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='ORGANIZER: organizer\nVOLUNTEER: volunteer', enum_type=RoleKind, max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'role', 'app': 'models', 'unique_together': (('event', 'person', 'kind'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]

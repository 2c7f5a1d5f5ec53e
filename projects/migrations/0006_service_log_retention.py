from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('projects', '0005_service_limits'),
    ]

    operations = [
        migrations.AddField(
            model_name='service',
            name='log_retention_days',
            field=models.PositiveSmallIntegerField(choices=[(1, '1 day'), (3, '3 days'), (7, '7 days'), (14, '14 days'), (30, '30 days')], default=7, help_text='days its log lines are kept (lines already stored keep the period they were stored with)'),
        ),
    ]

"""What AttributionFunction's batch needs from powertools: the FIFO processor, records as the domain reads them, a log.

Every failed record is logged once, with its reason and what became of it (parked, retried,
dead-lettered, held), and counted as metric InboundRecords_<outcome>; the text never is.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import ExceptionInfo, FailureResponse, SqsFifoPartialProcessor
from aws_lambda_powertools.utilities.batch.exceptions import SQSFifoMessageGroupCircuitBreakerError
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from messaging_partner.domain.failures import FailureOutcome, QueuedRecord, RecordFailure
from messaging_partner.domain.inbound_records import InboundRecords

from .observability import logger, metrics

_LOUD = frozenset({FailureOutcome.PARKED, FailureOutcome.DEAD_LETTERED})  # put aside: someone must look


def queued_record(record: SQSRecord) -> QueuedRecord:
    return QueuedRecord(
        message_id=record.message_id,
        body=record.body,
        receive_count=int(record.attributes.get("ApproximateReceiveCount") or 1),
        group_id=record.attributes.message_group_id,
    )


class LoggedFailures:
    """The FailureLog port: one log line and one metric per failed record."""

    def record_failed(self, failure: RecordFailure) -> None:
        fields = {name: value for name, value in vars(failure).items() if value is not None}
        fields["outcome"] = str(failure.outcome)
        log = logger.error if failure.outcome in _LOUD else logger.warning
        log(f"Inbound record {failure.outcome}: {failure.reason}", extra=fields)
        metrics.add_metric(name=f"InboundRecords_{failure.outcome}", unit=MetricUnit.Count, value=1)


class InboundBatchProcessor(SqsFifoPartialProcessor):
    """powertools' FIFO processor (a failed record returns the rest of its group too), telling the domain about each
    record it holds back so that the log says why."""

    def __init__(self, records: InboundRecords) -> None:
        super().__init__(skip_group_on_error=True)
        self._records = records

    def failure_handler(self, record: SQSRecord, exception: ExceptionInfo) -> FailureResponse:
        if exception[0] is SQSFifoMessageGroupCircuitBreakerError:
            self._records.held(queued_record(record))
        return super().failure_handler(record, exception)

// Package sim looks after the SIM behind the SMS fallback as a resource: its prepaid credit,
// asked of the network by USSD on a schedule, read from the operator's answer, and an alert job
// queued once each time it falls below a threshold (docs/SIM.md).
package sim

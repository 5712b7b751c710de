// Operations with no operator: an action group that emails `alertEmail`, and log alert
// rules on the app's Application Insights for what must not go unseen:
// - a function invocation failing (the host logs each invocation as a request);
// - no successful extraction for 30 minutes (no new manifest: slots are being missed);
// - Snowpipe refusing lines or files (the hourly run logs what `status` finds);
// - the transform failing its data tests;
// - a message parked in a poison queue: `webjobs-blobtrigger-poison` (a manifest whose
//   blob_trigger failed its five tries: "Poison blobs",
//   learn.microsoft.com/azure/azure-functions/functions-bindings-storage-blob-trigger)
//   or `jobs-poison` (a manual job that failed every delivery: "Poison messages",
//   learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue-trigger).
//   Nothing reads those queues, so their writes are sent to the workspace: the queue
//   service's StorageWrite logs go to the StorageQueueLogs table ("Supported logs for
//   Microsoft.Storage/storageAccounts/queueServices", learn.microsoft.com/azure/
//   azure-monitor/reference/supported-logs/microsoft-storage-storageaccounts-queueservices-logs),
//   whose OperationName is the REST operation and Uri the request's
//   (learn.microsoft.com/azure/azure-monitor/reference/tables/storagequeuelogs).
// Log search alert rules: learn.microsoft.com/azure/azure-monitor/alerts/alerts-create-log-alert-rule
// (resource type Microsoft.Insights/scheduledQueryRules); action groups:
// learn.microsoft.com/azure/azure-monitor/alerts/action-groups.

param location string
param namePrefix string
param appInsightsId string
param workspaceId string
param storageAccountName string

@description('Who is told when the pipeline needs a person.')
param alertEmail string

resource operators 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: '${namePrefix}-operators'
  location: 'global'
  properties: {
    groupShortName: 'twitchpipe'
    enabled: true
    emailReceivers: [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var rules = [
  {
    name: 'function-failed'
    description: 'A function invocation failed (extract, transform, blob trigger or a manual run).'
    severity: 1
    frequency: 'PT15M'
    window: 'PT15M'
    query: 'requests | where success == false'
    operator: 'GreaterThan'
    threshold: 0
    scope: appInsightsId
  }
  {
    name: 'no-new-slot'
    description: 'No extraction succeeded for 30 minutes: slots are being missed, and Twitch keeps no history.'
    severity: 0
    frequency: 'PT15M'
    window: 'PT30M'
    query: 'requests | where name == "extract_timer" and success == true'
    operator: 'LessThan'
    threshold: 1
    scope: appInsightsId
  }
  {
    name: 'snowpipe-load-errors'
    description: 'Snowpipe rejected lines of a file, or did not load a file (see twitch-pipeline status).'
    severity: 2
    frequency: 'PT1H'
    window: 'PT1H'
    query: 'traces | where operation_Name == "transform_timer" | where message has "rejected by Snowpipe" or message has "Snowpipe did not load"'
    operator: 'GreaterThan'
    threshold: 0
    scope: appInsightsId
  }
  {
    name: 'transform-tests-failed'
    description: 'The hourly transform failed a data test (its summary line names how many).'
    severity: 1
    frequency: 'PT1H'
    window: 'PT1H'
    query: 'traces | where operation_Name == "transform_timer" | where message matches regex @"tests: .*[1-9][0-9]* failed"'
    operator: 'GreaterThan'
    threshold: 0
    scope: appInsightsId
  }
  {
    name: 'poison-queue'
    description: 'A message was parked in a poison queue: a manifest blob_trigger could not submit (webjobs-blobtrigger-poison; the hourly run submits its files again within a day, see twitch-pipeline status), or a manual job that failed every try (jobs-poison).'
    severity: 1
    frequency: 'PT15M'
    window: 'PT15M'
    query: 'StorageQueueLogs | where OperationName == "PutMessage" | where Uri contains "/webjobs-blobtrigger-poison/" or Uri contains "/jobs-poison/"'
    operator: 'GreaterThan'
    threshold: 0
    scope: workspaceId
  }
]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' existing = {
  name: '${storageAccountName}/default'
}

// The queues' writes, for the poison-queue rule.
resource queueWrites 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'queue-writes'
  scope: queueService
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        category: 'StorageWrite'
        enabled: true
      }
    ]
  }
}

resource alerts 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = [
  for rule in rules: {
    name: '${namePrefix}-${rule.name}'
    location: location
    properties: {
      displayName: '${namePrefix}: ${rule.name}'
      description: rule.description
      severity: rule.severity
      enabled: true
      evaluationFrequency: rule.frequency
      windowSize: rule.window
      scopes: [
        rule.scope
      ]
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: 'Count'
            operator: rule.operator
            threshold: rule.threshold
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      actions: {
        actionGroups: [
          operators.id
        ]
      }
    }
  }
]

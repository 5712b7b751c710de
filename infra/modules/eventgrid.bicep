// Event Grid: a system topic on the storage account, and (phase two) the subscription
// that sends each new manifest to the blob_trigger function's webhook.
//
// The webhook is the Functions blob extension's:
//   https://APP/runtime/webhooks/blobs?functionName=Host.Functions.blob_trigger&code=KEY
// where KEY is the app's `blobs_extension` system key, which exists only after the
// code is deployed. Only BlobCreated events under the lake's `_manifests/` folder are
// sent: a slot is complete only once its manifest exists.
//
// An event that exhausts its retries (30 attempts or 24 hours, while the app cannot be
// reached) is dead-lettered into the storage account's `deadletter` container, not
// dropped. An event the app took but whose blob_trigger run fails is the host's to
// retry, not Event Grid's (infra/README.md). The account takes no
// shared keys, so Event Grid writes there as the system topic's own identity, with
// Storage Blob Data Contributor on that container alone, not on the lake (a role
// assignment's scope can be a container: "Assign an Azure role for access to blob
// data", learn.microsoft.com/azure/storage/blobs/assign-azure-role-data-access)
// ("Dead letter and retry policies":
// learn.microsoft.com/azure/event-grid/manage-event-delivery; "Event delivery with a
// managed identity": learn.microsoft.com/azure/event-grid/managed-service-identity).

param location string
param name string
param storageAccountName string
param lakeContainer string
param functionAppHostName string
param deploySubscription bool
param deadLetterContainer string

@secure()
param blobsExtensionKey string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: name
  location: location
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: storage.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

resource manifests 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (deploySubscription) {
  parent: topic
  name: 'manifests-to-blob-trigger'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: 'https://${functionAppHostName}/runtime/webhooks/blobs?functionName=Host.Functions.blob_trigger&code=${blobsExtensionKey}'
      }
    }
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      subjectBeginsWith: '/blobServices/default/containers/${lakeContainer}/blobs/_manifests/'
      subjectEndsWith: '.json'
    }
    eventDeliverySchema: 'EventGridSchema'
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: storage.id
          blobContainerName: deadLetterContainer
        }
      }
    }
  }
  dependsOn: [
    deadLetterWriter
  ]
}

// Built-in role: Storage Blob Data Contributor.
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource deadLetterTarget 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  name: '${storageAccountName}/default/${deadLetterContainer}'
}

resource deadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(deadLetterTarget.id, topic.id, storageBlobDataContributor)
  scope: deadLetterTarget
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: topic.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

output topicName string = topic.name

// Event Grid: a system topic on the storage account, and (phase two) the subscription
// that sends each new manifest to the blob_trigger function's webhook.
//
// The webhook is the Functions blob extension's:
//   https://APP/runtime/webhooks/blobs?functionName=Host.Functions.blob_trigger&code=KEY
// where KEY is the app's `blobs_extension` system key, which exists only after the
// code is deployed. Only BlobCreated events under the lake's `_manifests/` folder are
// sent: a slot is complete only once its manifest exists.

param location string
param name string
param storageAccountName string
param lakeContainer string
param functionAppHostName string
param deploySubscription bool

@secure()
param blobsExtensionKey string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: name
  location: location
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
  }
}

output topicName string = topic.name
